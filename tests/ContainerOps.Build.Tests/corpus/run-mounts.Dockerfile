FROM busybox AS tools
RUN mkdir /tools && echo built > /tools/marker
FROM busybox
ARG CACHE_ID=pkgs
RUN --mount=type=cache,target=/root/.cache,id=${CACHE_ID},sharing=locked,mode=0700,uid=1000,gid=1000 \
    --mount=type=bind,from=tools,source=/tools,target=/mnt/tools \
    --mount=type=tmpfs,target=/scratch,size=64m \
    --mount=type=secret,id=token,required=true \
    --mount=type=secret,id=npmrc,target=/root/.npmrc,mode=0440,env=NPMRC \
    --mount=target=/ctx,rw \
    --network=none \
    make all
RUN --mount=type=ssh,id=default git clone git@example.com:repo.git
RUN --security=insecure --network=host mount -t tmpfs none /mnt
