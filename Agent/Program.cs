using CyberWatch.Agent;

return await AgentCommandLine.RunAsync(args);
