// placeholder: replaced by the daemon host
return 0;
