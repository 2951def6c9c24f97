using System.Text.Json;
using System.Text.RegularExpressions;
using CyberWatch.Tests.Api;
using CyberWatch.Tests.Lab;
using Microsoft.Playwright;

namespace CyberWatch.Tests.Ui;

/// <summary>
/// The web UI in a browser, against a node in the lab's vantage namespace: a traceroute run from the form shows the
/// hops and AS path the lab's ground truth predicts; the target page draws its charts, the graph page its ASes.
/// Screenshots go to .data/test-results/screenshots.
/// </summary>
[Collection(LabCollection.Name)]
public sealed class LookingGlassInTheLabTests(LabFixture lab) : IAsyncLifetime
{
    private const string FastSettings = """
        UPDATE settings SET value = value || '{"rate_limit_per_minute": 600, "per_prefix_interval_seconds": 0,
            "target_cooldown_seconds": 0}'::jsonb WHERE key = 'worker_settings';
        """;

    private LabNode node = null!;
    private Browser browser = null!;

    public async ValueTask InitializeAsync()
    {
        lab.SkipIfUnavailable();
        Browser.SkipIfUnavailable();
        // Reading is public here, as on a public looking glass; probing needs a key.
        node = await LabNode.StartAsync(lab, FastSettings, new Dictionary<string, string?> { ["CYBERWATCH_API_ANONYMOUS_ROLE"] = "read" });
        browser = await Browser.LaunchAsync(LabFixture.Vantage);
    }

    public async ValueTask DisposeAsync()
    {
        if (browser is not null)
        {
            await browser.DisposeAsync();
        }
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_traceroute_from_the_form_shows_the_lab_hops_then_the_target_page_charts_and_the_graph()
    {
        try
        {
            await RunAsync();
        }
        catch
        {
            await browser.ScreenshotAsync("failure-lab");
            throw;
        }
    }

    private async Task RunAsync()
    {
        var (address, trace) = lab.Traces().First(t => t.Trace.GetProperty("family").GetString() == "ipv4" && t.Trace.GetProperty("reachable").GetBoolean());
        var asPath = trace.GetProperty("as_path").EnumerateArray().Select(a => a.GetInt64()).ToList();
        var hopCount = trace.GetProperty("hop_addresses").GetArrayLength();
        var page = browser.Page;
        await page.GotoAsync(node.ApiUrl + "/");
        await page.FillAsync("#lg-target", address);
        await page.SelectOptionAsync("#lg-method", new SelectOptionValue { Label = "Traceroute · ICMP Paris" });

        // Without a key the probe is refused, and the page says what to do.
        await page.ClickAsync("#lg-run");
        var problem = page.Locator("#lg-result .problem");
        await problem.WaitForAsync();
        Assert.Contains("API key required", await problem.InnerTextAsync());

        var key = await ApiKeys.CreateAsync(node.Database.ConnectionString, "probe");
        await page.ClickAsync("#key-button");
        await page.FillAsync("#key-input", key);
        await page.PressAsync("#key-input", "Enter");
        await page.ClickAsync("#lg-run");
        var rows = page.Locator("#lg-result table.hops tbody tr");
        await rows.First.WaitForAsync();
        var ttls = (await page.Locator("#lg-result table.hops tbody tr td:first-child").AllInnerTextsAsync()).Where(t => t.Length > 0).ToList();
        Assert.Equal(hopCount, ttls.Count);
        Assert.Equal(address, (await rows.Last.Locator("td.addr").InnerTextAsync()).Trim());
        var strip = await page.Locator("#lg-result ol.as-path li").AllInnerTextsAsync();
        Assert.Equal(asPath.Select(a => $"AS{a}"), strip.Select(s => s.Trim()));
        await browser.ScreenshotAsync("looking-glass");

        // The history link leads to the target page with both charts drawn.
        await page.ClickAsync("text=History of this target");
        await page.Locator("#rtt-chart").WaitForAsync();
        await page.Locator("#hops-chart").WaitForAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('.paths') !== null");
        Assert.True(await page.EvaluateAsync<int>("() => document.getElementById('rtt-chart').width") > 100);
        var distinctPath = await page.Locator(".paths tbody tr").First.Locator("ol.as-path li").AllInnerTextsAsync();
        Assert.Equal(asPath.Select(a => $"AS{a}"), distinctPath.Select(s => s.Trim()));
        await browser.ScreenshotAsync("target");

        // The graph around the transit AS shows its neighbours on the path; clicking the ASN page link works.
        var transit = asPath[1];
        await page.GotoAsync($"{node.ApiUrl}/#/graph/{transit}");
        await page.Locator("#graph canvas").First.WaitForAsync();
        await page.WaitForFunctionAsync("() => /AS edges within/.test(document.querySelector('main p.muted')?.textContent ?? '')");
        var note = await page.Locator("main p.muted").First.InnerTextAsync();
        Assert.Matches(new Regex(@"^[3-9]\d* ASes and [2-9]\d* AS edges"), note);
        await browser.ScreenshotAsync("graph");

        await page.ClickAsync("text=ASN details");
        await page.Locator("table.neighbors").WaitForAsync();
        var neighbours = await page.Locator("table.neighbors tbody td:first-child").AllInnerTextsAsync();
        Assert.Contains($"AS{asPath[0]}", neighbours);
        Assert.Contains($"AS{asPath[2]}", neighbours);
        await browser.ScreenshotAsync("asn");

        await page.GotoAsync($"{node.ApiUrl}/#/status");
        await page.Locator("#health-table").WaitForAsync();
        await browser.ScreenshotAsync("status");
        await page.GotoAsync($"{node.ApiUrl}/#/dns");
        // This browser's key has the probe role, and what a resolver's clients look up needs the dns role: the page
        // says so (403) with what to do, rather than showing nothing.
        await page.Locator(".problem").First.WaitForAsync();
        Assert.Contains("needs a key with role dns", await page.Locator(".problem").First.InnerTextAsync());
        await browser.ScreenshotAsync("dns");

        // The refused probe (401), the DNS endpoints refused without a dns key (403) or missing on another node (404)
        // are expected; nothing else, no CSP violation.
        var unexpected = browser.Errors.Where(e => !e.Contains("401") && !e.Contains("403") && !e.Contains("404")).ToList();
        Assert.True(unexpected.Count == 0, "browser errors:\n" + string.Join("\n", unexpected));
    }
}
