using System.Net.Http.Json;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Ui;

/// <summary>
/// The vantage-point pages in a browser, against two vantage points on this machine ("home" and "office", one
/// silo each, one database) and an API of home probing 127.0.0.0/8: the Vantages page, the looking glass from
/// both side by side (then with office stopped: its column says 503), and the target page's table per vantage.
/// The paths are the same from both here; that they differ per vantage is the lab's part.
/// </summary>
public sealed class VantagesInTheBrowserTests : IAsyncLifetime
{
    private readonly List<NodeProcess> processes = [];
    private readonly HttpClient http = new() { Timeout = TimeSpan.FromMinutes(3) };
    private TestDatabase db = null!;
    private NodeProcess office = null!;
    private Browser browser = null!;
    private string url = "";

    public async ValueTask InitializeAsync()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/bin/scamper"))
        {
            Assert.Skip("needs root and scamper (raw sockets) to probe");
        }
        Browser.SkipIfUnavailable();
        db = await TestDatabase.CreateAsync();
        await db.ScalarAsync<object>("""
            UPDATE settings SET value = value || '{"rate_limit_per_minute": 6000, "per_prefix_interval_seconds": 0,
                "target_cooldown_seconds": 0}'::jsonb WHERE key = 'worker_settings'
            """);
        var environment = new NodeEnvironment(db.ConnectionString, "ui-" + Guid.NewGuid().ToString("n")[..8]);
        await StartSiloAsync(environment, "home");
        office = await StartSiloAsync(environment, "office");
        var api = environment.Api(out url);
        api["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        api["CYBERWATCH_VANTAGE"] = "home";
        processes.Add(NodeProcess.Start(Repository.ApiDll, api));
        http.BaseAddress = new Uri(url);
        await processes[^1].WaitForHttpAsync($"{url}/ready", TimeSpan.FromSeconds(90));
        await WaitAsync("both vantage points up", async () =>
            (await http.GetFromJsonAsync<JsonElement>("/vantages")).EnumerateArray().Count(v => v.GetProperty("status").GetString() == "up") == 2);
        browser = await Browser.LaunchAsync();
    }

    private async Task<NodeProcess> StartSiloAsync(NodeEnvironment environment, string vantage)
    {
        var silo = environment.Silo(out _, out _, out var siloHttp);
        silo["CYBERWATCH_ALLOWED_TARGETS"] = "127.0.0.0/8";
        silo["CYBERWATCH_VANTAGE"] = vantage;
        var process = NodeProcess.Start(Repository.SiloDll, silo, "run");
        processes.Add(process);
        await process.WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        if (browser is not null)
        {
            await browser.DisposeAsync();
        }
        foreach (var process in Enumerable.Reverse(processes))
        {
            await process.DisposeAsync();
        }
        if (db is not null)
        {
            await db.DisposeAsync();
        }
        http.Dispose();
    }

    [Fact]
    public async Task Vantages_page_looking_glass_side_by_side_and_target_page_show_each_vantage_and_a_down_one_as_503()
    {
        try
        {
            await RunAsync();
        }
        catch
        {
            await browser.ScreenshotAsync("failure-vantages");
            throw;
        }
    }

    private async Task RunAsync()
    {
        var page = browser.Page;

        // The Vantages page, from the navigation: a card per vantage point, both up.
        await page.GotoAsync(url + "/");
        await page.ClickAsync("nav >> text=Vantages");
        await page.Locator(".vantage-card[data-vantage=office] .badge.up").WaitForAsync();
        Assert.Equal(["home", "office"], await page.Locator(".vantage-card").EvaluateAllAsync<string[]>("cards => cards.map(c => c.dataset.vantage)"));
        Assert.Equal(1, await page.Locator(".vantage-card[data-vantage=home] table.silos tbody tr").CountAsync());
        await browser.ScreenshotAsync("vantages");

        // The looking glass from all: one column per vantage point, each with its hops.
        await page.ClickAsync("nav >> text=Looking glass");
        await page.Locator("#lg-vantage option[value=office]").WaitForAsync(new() { State = Microsoft.Playwright.WaitForSelectorState.Attached });
        await page.FillAsync("#lg-target", "127.0.0.33");
        await page.SelectOptionAsync("#lg-vantage", "all");
        await page.ClickAsync("#lg-run");
        await page.Locator(".vantage-column").Nth(1).WaitForAsync();
        Assert.Equal(["home", "office"], await page.Locator(".vantage-column").EvaluateAllAsync<string[]>("columns => columns.map(c => c.dataset.vantage)"));
        foreach (var vantage in new[] { "home", "office" })
        {
            var column = page.Locator($".vantage-column[data-vantage={vantage}]");
            Assert.Contains("answered", await column.Locator(".vantage-name").InnerTextAsync());
            Assert.StartsWith("127.0.0.33", (await column.Locator("table.hops tbody tr td.addr").Last.InnerTextAsync()).Trim());
        }

        // From one: one column.
        await page.SelectOptionAsync("#lg-vantage", "office");
        await page.ClickAsync("#lg-run");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('.vantage-column').length === 1");
        Assert.Equal("office", await page.Locator(".vantage-column").GetAttributeAsync("data-vantage"));

        // The target page: both lines' vantage points in the table.
        await page.ClickAsync("text=History of this target");
        await page.Locator("#rtt-chart").WaitForAsync();
        await page.Locator("#per-vantage tbody tr").Nth(1).WaitForAsync();
        Assert.Equal(["home", "office"], await page.Locator("#per-vantage tbody tr").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.vantage)"));
        await browser.ScreenshotAsync("target-vantages");

        // Office stops: the Vantages page turns it down, the looking glass answers for home and says 503 for office.
        await office.StopAsync();
        await WaitAsync("office reported down", async () =>
            (await http.GetFromJsonAsync<JsonElement>("/vantages/office")).GetProperty("status").GetString() == "down", TimeSpan.FromSeconds(120));
        await page.GotoAsync(url + "/#/vantages");
        await page.Locator(".vantage-card.down[data-vantage=office] .badge.down").WaitForAsync();
        await page.ClickAsync("nav >> text=Looking glass");
        await page.Locator("#lg-vantage option[value=office]").WaitForAsync(new() { State = Microsoft.Playwright.WaitForSelectorState.Attached });
        Assert.Contains("office (down)", await page.Locator("#lg-vantage").InnerTextAsync());
        await page.FillAsync("#lg-target", "127.0.0.34");
        await page.SelectOptionAsync("#lg-vantage", "all");
        await page.ClickAsync("#lg-run");
        await page.Locator(".vantage-column.failed[data-vantage=office]").WaitForAsync();
        Assert.Contains("503", await page.Locator(".vantage-column[data-vantage=office]").InnerTextAsync());
        Assert.Contains("answered", await page.Locator(".vantage-column[data-vantage=home] .vantage-name").InnerTextAsync());
        await browser.ScreenshotAsync("looking-glass-vantage-down");

        // The API's own error answers (a 404 of a target not measured yet) show up as console errors; nothing else may.
        Assert.DoesNotContain(browser.Errors, e => !e.Contains("404"));
    }

    private async Task WaitAsync(string what, Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(500);
        }
    }
}
