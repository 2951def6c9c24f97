using System.Net;
using System.Net.Sockets;

namespace CyberWatch.Tests.Infrastructure;

/// <summary>Paths of the checkout and of the built executables, found from the test assembly.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

    public static string SiloDll => Path.Combine(Root, "Silo", "bin", Configuration, "net10.0", "CyberWatch.Silo.dll");
    public static string AgentDll => Path.Combine(Root, "Agent", "bin", Configuration, "net10.0", "CyberWatch.Agent.dll");
    public static string ApiDll => Path.Combine(Root, "WebApi", "bin", Configuration, "net10.0", "CyberWatch.WebApi.dll");

    /// <summary>The shared real-data folder (../shared/data beside the checkout), or null when absent.</summary>
    public static string? SharedData
    {
        get
        {
            var configured = Environment.GetEnvironmentVariable("CYBERWATCH_SHARED_DATA");
            var path = string.IsNullOrEmpty(configured) ? Path.GetFullPath(Path.Combine(Root, "..", "shared", "data")) : configured;
            return Directory.Exists(path) ? path : null;
        }
    }

    public static int FreeTcpPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CyberWatch.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"CyberWatch.sln not found above {AppContext.BaseDirectory}");
    }
}
