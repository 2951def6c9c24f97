namespace CyberWatch.Configuration;

/// <summary>Configuration or environment the node cannot start with; the message is meant for the operator as is.</summary>
public sealed class ConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
