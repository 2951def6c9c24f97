using CyberWatch.Tests.Infrastructure;
using Microsoft.Playwright;

namespace CyberWatch.Tests.Ui;

/// <summary>
/// Headless Debian chromium driven by Playwright, optionally inside a network namespace (a wrapper runs it under
/// <c>ip netns exec</c>; Playwright talks to it over a pipe, so the namespace's loopback API is reachable).
/// Console errors and page errors (a Content-Security-Policy violation among them) are collected.
/// </summary>
public sealed class Browser : IAsyncDisposable
{
    public const string Chromium = "/usr/bin/chromium";

    private readonly IPlaywright playwright;
    private readonly IBrowser browser;
    private readonly string? wrapper;

    private Browser(IPlaywright playwright, IBrowser browser, IPage page, string? wrapper)
    {
        this.playwright = playwright;
        this.browser = browser;
        this.wrapper = wrapper;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Errors.Add(message.Text);
            }
        };
        page.PageError += (_, error) => Errors.Add(error);
    }

    public IPage Page { get; }

    public List<string> Errors { get; } = [];

    public static string ScreenshotDirectory { get; } = Path.Combine(Repository.Root, ".data", "test-results", "screenshots");

    public static void SkipIfUnavailable()
    {
        if (!File.Exists(Chromium))
        {
            Assert.Skip($"browser tests need Debian chromium at {Chromium} (apt-get install chromium; scripts/test installs it)");
        }
    }

    public static async Task<Browser> LaunchAsync(string? netns = null)
    {
        string? wrapper = null;
        var executable = Chromium;
        if (netns is not null)
        {
            wrapper = Path.Combine(Path.GetTempPath(), $"cyberwatch-chromium-{netns}-{Guid.NewGuid():n}.sh");
            await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec ip netns exec {netns} {Chromium} \"$@\"\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            executable = wrapper;
        }
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        page.SetDefaultTimeout(60_000);
        return new Browser(playwright, browser, page, wrapper);
    }

    /// <summary>Saves a full-page screenshot as <c>.data/test-results/screenshots/NAME.png</c> and returns its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        var path = Path.Combine(ScreenshotDirectory, name + ".png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        await browser.DisposeAsync();
        playwright.Dispose();
        if (wrapper is not null)
        {
            File.Delete(wrapper);
        }
    }
}
