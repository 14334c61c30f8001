FROM busybox

FROBNICATE now
