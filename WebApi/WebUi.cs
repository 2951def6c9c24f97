using Microsoft.Extensions.FileProviders;

namespace CyberWatch.WebApi;

/// <summary>Serves the bundled web UI (bin/.../ui, built from WebApi/ui) at <c>/</c>, without a key: the pages ask the API with the user's key.</summary>
public static class WebUi
{
    public static WebApplication UseCyberWatchUi(this WebApplication app)
    {
        var root = Path.Combine(AppContext.BaseDirectory, "ui");
        if (!File.Exists(Path.Combine(root, "index.html")))
        {
            app.MapGet("/", () => Results.Text("The cyberWatch web UI is not built: build WebApi with npm on the PATH (see README). The API works without it; see /docs.\n"))
                .AllowAnonymous().ExcludeFromDescription();
            return app;
        }
        var files = new PhysicalFileProvider(root);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            // File names carry no hash: revalidate every time (ETag makes that cheap).
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }
}
