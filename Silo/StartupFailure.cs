using System.Net.Sockets;
using Npgsql;

namespace CyberWatch.Silo;

/// <summary>Reduces a start-up exception to the one line an operator needs.</summary>
public static class StartupFailure
{
    public static string Describe(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } s:
                    return $"a port is already in use ({s.Message}); is another silo running? choose others with CYBERWATCH_SILO_PORT/CYBERWATCH_GATEWAY_PORT/CYBERWATCH_SILO_HTTP";
                case PostgresException p:
                    return $"PostgreSQL said: {p.MessageText}";
                case NpgsqlException n:
                    return $"PostgreSQL: {n.Message}";
            }
        }
        var root = exception.GetBaseException();
        return $"{root.GetType().Name}: {root.Message}";
    }
}
