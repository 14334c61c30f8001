# escape=`
# syntax=docker/dockerfile:1.4
FROM busybox
RUN <<EOF `
    && echo after
echo line ending in a backtick `
C:\path\kept
EOF
COPY <<EOF C:\dest\file.txt
value with `$HOME and \n kept
EOF
WORKDIR /w
