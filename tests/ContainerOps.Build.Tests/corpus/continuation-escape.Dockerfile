# escape=`
FROM busybox
# a comment between instructions
RUN echo one `
    two `
# a comment inside a continuation
    three
COPY C:\src C:\dst
