using CyberWatch.Silo;

return await SiloCommandLine.RunAsync(args);
