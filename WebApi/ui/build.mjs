// Bundles the web UI into dist/ (app.js, app.css, index.html); WebApi.csproj runs it on build.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";

const outdir = new URL("./dist/", import.meta.url).pathname;
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: { app: "src/main.js" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  outdir,
  logLevel: "warning",
});
await build({ entryPoints: { app: "src/style.css" }, bundle: true, minify: true, outdir, logLevel: "warning" });
await copyFile("index.html", outdir + "index.html");
