using CyberWatch.WebApi;

return await ApiCommandLine.RunAsync(args);
