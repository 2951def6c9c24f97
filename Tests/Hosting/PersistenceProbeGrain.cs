using Orleans.Runtime;

namespace CyberWatch.Tests.Hosting;

/// <summary>Test grain exercising grain storage and reminders on the real PostgreSQL providers.</summary>
public interface IPersistenceProbeGrain : IGrainWithStringKey
{
    Task<int> RecordProbe(string hop);
    Task<PersistenceProbeState> Read();
    Task StartReminder(TimeSpan period);
    Task StopReminder();
}

[GenerateSerializer]
public sealed class PersistenceProbeState
{
    [Id(0)] public int Probes { get; set; }
    [Id(1)] public List<string> Hops { get; set; } = [];
    [Id(2)] public int ReminderTicks { get; set; }
}

public sealed class PersistenceProbeGrain(
    [PersistentState("probe", "cyberwatch")] IPersistentState<PersistenceProbeState> state)
    : Grain, IPersistenceProbeGrain, IRemindable
{
    public async Task<int> RecordProbe(string hop)
    {
        state.State.Probes++;
        state.State.Hops.Add(hop);
        await state.WriteStateAsync();
        return state.State.Probes;
    }

    public Task<PersistenceProbeState> Read() => Task.FromResult(state.State);

    public Task StartReminder(TimeSpan period) =>
        this.RegisterOrUpdateReminder("remeasure", TimeSpan.FromSeconds(1), period);

    public async Task StopReminder()
    {
        var reminder = await this.GetReminder("remeasure");
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        state.State.ReminderTicks++;
        await state.WriteStateAsync();
    }
}
