using System.Text.Json;

namespace CyberWatch.Measurement.Scamper;

internal static class ScamperUserId
{
    /// <summary>The top-level <c>userid</c> of a scamper JSON result, without parsing the whole object.</summary>
    public static uint? Find(string json)
    {
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json));
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("userid"))
                {
                    reader.Read();
                    return reader.TryGetUInt32(out var id) ? id : null;
                }
                reader.Read();
                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }
        return null;
    }
}
