# syntax=docker/dockerfile:1.4
FROM busybox
ARG name=world
RUN <<EOF
# a comment in the script
echo "hello $name" > /hello

echo done
EOF
RUN <<-EOT
	echo tabbed > /tabbed
	EOT
RUN <<"EOF"
echo "$name stays for the shell"
EOF
RUN <<'EOF'
echo '$name' > /single
EOF
RUN python3 <<EOF
print("fed to stdin")
EOF
RUN cat <<A > /a && cat <<B > /b
first
A
second
B
RUN <<EOF
#!/bin/sh
echo from a script file > /script
EOF
COPY <<EOF /etc/greeting
Hello ${name}!
EOF
COPY <<a.txt <<b.txt /dir/
file a
a.txt
file b
b.txt
RUN --mount=type=cache,target=/var/cache/apk <<EOF
ls /var/cache/apk
EOF
RUN ["<<EOF"]
RUN "<<NOHEREDOC"
ONBUILD RUN <<EOF
echo triggered
EOF
CMD ["cat", "/hello"]
