using ContainerOps.Cli;

return await CliApp.MainAsync(args);
