ARG BASE=busybox
ARG VERSION
FROM ${BASE} AS builder
ARG VERSION=1.0
RUN echo "$VERSION" > /version
FROM --platform=linux/amd64 scratch AS final
COPY --from=builder /version /version
CMD ["/bin/true"]
