// placeholder: replaced by the CLI
return 0;
