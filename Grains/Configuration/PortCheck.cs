using System.Net;
using System.Net.Sockets;


namespace CyberWatch.Configuration;

/// <summary>Refuses to start on a port that is taken, before Orleans half-starts and registers in the membership table.</summary>
public static class PortCheck
{
    public static void EnsureFree(IPAddress address, int port, string purpose, string variable)
    {
        try
        {
            var listener = new TcpListener(address, port);
            listener.Server.ExclusiveAddressUse = true;
            listener.Start();
            listener.Stop();
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new ConfigurationException($"{purpose} port {address}:{port} is already in use; is another cyberWatch process running? set {variable} to another port");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            throw new ConfigurationException($"cannot listen on {address}:{port} for the {purpose}: the address is not on this machine (CYBERWATCH_ADVERTISED_ADDRESS)");
        }
    }
}
