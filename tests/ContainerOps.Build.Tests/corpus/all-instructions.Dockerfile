FROM busybox
MAINTAINER Jane Admin <jane@example.com>
LABEL org.example.name="web server" version=2
LABEL legacy value with spaces
ENV A=1 B="two words"
ENV LEGACY value with spaces
ARG TAG=latest
EXPOSE 80 443/udp
WORKDIR /srv
WORKDIR app
USER app:app
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD wget -q -O- http://localhost/ || exit 1
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered
ENTRYPOINT ["/bin/app"]
CMD --help
