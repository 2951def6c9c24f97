using System.Text.Json;
using System.Text.RegularExpressions;
using CyberWatch.Tests.Infrastructure;
using Npgsql;

namespace CyberWatch.Tests.Operations;

/// <summary>
/// Every panel and variable query of grafana/dashboards, expanded as Grafana would expand it (All,
/// several values, one value, nothing selected, Grafana's empty value) and run against the migrated
/// schema filled with a day of measurements: it must run, return rows, and return the column types
/// its panel needs. Grafana itself is not installed here; this is the part of it that touches our schema.
/// </summary>
public sealed class GrafanaDashboardTests(DashboardData data) : IClassFixture<DashboardData>
{
    private const string DataSourceUid = "cyberwatch-pg";

    private static string DashboardFolder => Path.Combine(Repository.Root, "grafana", "dashboards");

    // Table panels: the columns they show, in order, and what each must be.
    private static readonly Dictionary<string, (string Name, Kind Kind)[]> TableColumns = new()
    {
        ["Failure reasons"] = [("reason", Kind.Text), ("method", Kind.Text), ("failures", Kind.Number), ("last seen", Kind.Time)],
        ["RTT by ASN"] = [("ASN", Kind.Number), ("organisation", Kind.Text), ("measurements", Kind.Number), ("replies", Kind.Number),
                          ("mean RTT", Kind.Number), ("P95 RTT", Kind.Number)],
        ["AS edge observations"] = [("from ASN", Kind.Number), ("to ASN", Kind.Number), ("observations", Kind.Number), ("min RTT", Kind.Number),
                                    ("mean RTT", Kind.Number), ("max RTT", Kind.Number), ("IXP", Kind.Text), ("first seen", Kind.Time), ("last seen", Kind.Time)],
        ["Recent path changes"] = [("time", Kind.Time), ("target", Kind.Text), ("vantage", Kind.Text), ("kind", Kind.Text), ("before", Kind.Text), ("after", Kind.Text),
                                   ("measurement", Kind.Number)],
        ["Targets from DNS"] = [("domain", Kind.Text), ("addresses", Kind.Number), ("resolutions", Kind.Number), ("last seen", Kind.Time)],
    };

    public enum Kind { Text, Number, Time }

    public static TheoryData<string, string> Queries()
    {
        var queries = new TheoryData<string, string>();
        foreach (var file in Directory.GetFiles(DashboardFolder, "*.json").Order())
        {
            var dashboard = Dashboard.Load(file);
            foreach (var variable in dashboard.VariableQueries.Keys)
            {
                queries.Add(Path.GetFileName(file), $"variable {variable}");
            }
            foreach (var panel in dashboard.Panels)
            {
                queries.Add(Path.GetFileName(file), panel.Title);
            }
        }
        return queries;
    }

    [Theory]
    [MemberData(nameof(Queries))]
    public async Task Query_returns_rows_of_the_types_its_panel_expects_for_every_variable_selection(string file, string query)
    {
        var dashboard = Dashboard.Load(Path.Combine(DashboardFolder, file));
        var variables = await VariablesAsync(dashboard);
        foreach (var (selectionName, selections) in Selections(variables))
        {
            if (query.StartsWith("variable ", StringComparison.Ordinal))
            {
                var rows = await RunAsync(dashboard.VariableQueries[query["variable ".Length..]], variables, selections);
                Assert.True(rows.Rows.Count > 0, $"{query} ({selectionName}) returned no options");
                var column = Assert.Single(rows.Columns);
                Assert.True(column.Kind == Kind.Text, $"{query}: a variable's options must be text, got {column.Type}");
                continue;
            }
            var panel = dashboard.Panels.Single(p => p.Title == query);
            var result = await RunAsync(panel.Sql, variables, selections);
            var context = $"{file} / {panel.Title} ({selectionName})";
            Assert.True(result.Rows.Count > 0, $"{context}: no rows");
            switch (panel.Format, panel.Type)
            {
                case ("time_series", _):
                    AssertTimeSeries(result, context);
                    break;
                case ("table", "stat"):
                    Assert.True(result.Rows.Count == 1, $"{context}: a stat query returns one row");
                    Assert.All(result.Columns, c => Assert.True(c.Kind == Kind.Number, $"{context}: column {c.Name} is {c.Type}, not a number"));
                    Assert.All(result.Rows, r => Assert.NotNull(r[0]));
                    break;
                case ("table", "barchart" or "bargauge"):
                    Assert.True(result.Columns[0].Kind == Kind.Text, $"{context}: the category column is {result.Columns[0].Type}");
                    Assert.All(result.Columns.Skip(1), c => Assert.True(c.Kind == Kind.Number, $"{context}: column {c.Name} is {c.Type}"));
                    break;
                case ("table", "table"):
                    Assert.True(TableColumns.TryGetValue(panel.Title, out var expected), $"{context}: add the table's columns to {nameof(TableColumns)}");
                    Assert.Equal(expected, result.Columns.Select(c => (c.Name, c.Kind)).ToArray());
                    break;
                default:
                    Assert.Fail($"{context}: no expectation for a {panel.Type} panel in {panel.Format} format");
                    break;
            }
        }
    }

    // Panels of a dashboard with a vantage variable that cannot filter by it, and why.
    private static readonly Dictionary<string, string> AcrossAllVantages = new()
    {
        ["Mean RTT by ASN (hourly aggregates)"] = "asn_stats is not kept per vantage point",
    };

    [Fact]
    public async Task Every_dashboard_of_measurements_has_a_vantage_variable_that_its_panels_filter_by()
    {
        foreach (var file in Directory.GetFiles(DashboardFolder, "*.json").Order())
        {
            var dashboard = Dashboard.Load(file);
            var name = Path.GetFileName(file);
            if (!dashboard.Panels.Any(p => MeasuresSomething(p.Sql)))
            {
                continue;
            }
            var vantage = dashboard.Variables.SingleOrDefault(v => v.Name == "vantage");
            Assert.True(vantage is not null, $"{name} shows measurements but has no vantage variable");
            using (var json = JsonDocument.Parse(File.ReadAllText(file)))
            {
                var definition = json.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray()
                    .Single(v => v.GetProperty("name").GetString() == "vantage");
                Assert.True(definition.GetProperty("multi").GetBoolean() && definition.GetProperty("includeAll").GetBoolean(),
                    $"{name}: the vantage variable must be multi-value with All");
            }
            var variables = await VariablesAsync(dashboard);
            Assert.Equal(DashboardData.Vantages, variables["vantage"].Options);
            foreach (var panel in dashboard.Panels)
            {
                var context = $"{name} / {panel.Title}";
                if (AcrossAllVantages.ContainsKey(panel.Title))
                {
                    Assert.DoesNotContain("${vantage", panel.Sql);
                    continue;
                }
                Assert.True(panel.Sql.Contains("${vantage:sqlstring}", StringComparison.Ordinal), $"{context} does not use the vantage variable");
                Dictionary<string, VariableSelection> Only(params string[] chosen) => variables.Values.ToDictionary(v => v.Name,
                    v => v.Name == "vantage" ? new VariableSelection.Values(chosen) : (VariableSelection)new VariableSelection.All());
                var all = await RunAsync(panel.Sql, variables, Only([.. DashboardData.Vantages]));
                var elsewhere = await RunAsync(panel.Sql, variables, Only("elsewhere"));
                Assert.True(all.Rows.Count > 0, $"{context}: no rows for every vantage");
                Assert.True(elsewhere.Rows.Count == 0 || elsewhere.Rows.All(r => r.All(v => v is null or 0L or 0 or 0m or 0.0)),
                    $"{context}: a vantage that measured nothing still shows data");
            }
        }

        // Counts add up: what home saw and what office saw is what both saw.
        var measurements = Dashboard.Load(Path.Combine(DashboardFolder, "measurements.json"));
        var options = await VariablesAsync(measurements);
        async Task<long> CountAsync(params string[] vantages)
        {
            var selections = options.Values.ToDictionary(v => v.Name,
                v => v.Name == "vantage" ? new VariableSelection.Values(vantages) : (VariableSelection)new VariableSelection.All());
            var result = await RunAsync(measurements.Panels.Single(p => p.Title == "Successful measurements").Sql, options, selections);
            return Convert.ToInt64(result.Rows.Single()[0]);
        }
        var home = await CountAsync("home");
        var office = await CountAsync("office");
        Assert.True(home > 0 && office > 0, $"home {home}, office {office}");
        Assert.Equal(home + office, await CountAsync("home", "office"));
    }

    private static bool MeasuresSomething(string sql) =>
        Regex.IsMatch(sql, @"\b(measurements|hops|path_changes|target_hourly_stats|as_edges|asn_stats)\b");

    [Fact]
    public void Every_panel_and_variable_uses_the_provisioned_data_source_and_dashboard_uids_are_unique()
    {
        var provisioning = File.ReadAllText(Path.Combine(Repository.Root, "grafana", "provisioning", "datasources", "cyberwatch.yaml"));
        Assert.Matches(@"(?m)^\s+uid:\s*" + DataSourceUid + @"\s*$", provisioning);
        Assert.Matches(@"(?m)^\s+type:\s*postgres\s*$", provisioning);
        foreach (var variable in new[] { "HOST", "DATABASE", "USER", "PASSWORD", "SSLMODE" })
        {
            Assert.Contains("${CYBERWATCH_GRAFANA_PG_" + variable + "}", provisioning);
        }
        var provider = File.ReadAllText(Path.Combine(Repository.Root, "grafana", "provisioning", "dashboards", "cyberwatch.yaml"));
        Assert.Matches(@"(?m)^\s+type:\s*file\s*$", provider);
        Assert.Matches(@"(?m)^\s+path:\s*/\S+\s*$", provider);

        var uids = new List<string>();
        foreach (var file in Directory.GetFiles(DashboardFolder, "*.json"))
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            uids.Add(json.RootElement.GetProperty("uid").GetString()!);
            foreach (var reference in DataSourceReferences(json.RootElement))
            {
                Assert.Equal(DataSourceUid, reference);
            }
        }
        Assert.Equal(uids.Count, uids.Distinct().Count());
        Assert.True(uids.Count >= 5);
    }

    [Fact]
    public void Macros_expand_as_grafana_expands_them()
    {
        var from = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
        var variables = new Dictionary<string, DashboardVariable> { ["target"] = new("target", "'*'", ["1.1.1.1", "o'brien"]) };
        string Expand(string sql, VariableSelection selection) => GrafanaSql.Expand(sql, variables,
            new Dictionary<string, VariableSelection> { ["target"] = selection }, from, from.AddHours(6), TimeSpan.FromMinutes(5));

        Assert.Equal("SELECT floor(extract(epoch from t)/300)*300 AS \"time\" WHERE t BETWEEN '2026-11-29T12:00:00Z' AND '2026-11-29T18:00:00Z'",
            Expand("SELECT $__timeGroupAlias(t, $__interval) WHERE $__timeFilter(t)", new VariableSelection.All()));
        Assert.Equal("ARRAY['*']", Expand("ARRAY[${target:sqlstring}]", new VariableSelection.All()));
        Assert.Equal("ARRAY['1.1.1.1','o''brien']", Expand("ARRAY[${target:sqlstring}]", new VariableSelection.Values(["1.1.1.1", "o'brien"])));
        Assert.Equal("ARRAY[]", Expand("ARRAY[${target:sqlstring}]", new VariableSelection.Values([])));
        Assert.Equal("ARRAY['']", Expand("ARRAY[${target:sqlstring}]", new VariableSelection.Nothing()));
        Assert.Throws<InvalidOperationException>(() => Expand("WHERE target IN ($target)", new VariableSelection.All()));
        Assert.Throws<InvalidOperationException>(() => Expand("WHERE $__unixEpochFilter(t)", new VariableSelection.All()));
    }

    private async Task<Dictionary<string, DashboardVariable>> VariablesAsync(Dashboard dashboard)
    {
        var variables = dashboard.Variables.ToDictionary(v => v.Name, v => v with { Options = [] });
        foreach (var (name, sql) in dashboard.VariableQueries)
        {
            var result = await RunAsync(sql, variables, new Dictionary<string, VariableSelection>());
            variables[name] = variables[name] with { Options = result.Rows.Select(r => Convert.ToString(r[0])!).ToList() };
        }
        return variables;
    }

    private static IEnumerable<(string Name, Dictionary<string, VariableSelection> Selections)> Selections(Dictionary<string, DashboardVariable> variables)
    {
        Dictionary<string, VariableSelection> Each(Func<DashboardVariable, VariableSelection> choose) =>
            variables.Values.ToDictionary(v => v.Name, choose);
        yield return ("All", Each(_ => new VariableSelection.All()));
        yield return ("two values", Each(v => new VariableSelection.Values(v.Options.Take(2).ToList())));
        yield return ("one value", Each(v => new VariableSelection.Values(v.Options.Skip(v.Options.Count / 2).Take(1).ToList())));
        yield return ("none selected", Each(_ => new VariableSelection.Values([])));
        yield return ("empty value", Each(_ => new VariableSelection.Nothing()));
    }

    private async Task<QueryResult> RunAsync(string sql, Dictionary<string, DashboardVariable> variables, IReadOnlyDictionary<string, VariableSelection> selections)
    {
        var expanded = GrafanaSql.Expand(sql, variables, selections, data.Now.AddHours(-24), data.Now, TimeSpan.FromMinutes(5));
        await using var command = data.Database.DataSource.CreateCommand(expanded);
        try
        {
            await using var reader = await command.ExecuteReaderAsync();
            var columns = Enumerable.Range(0, reader.FieldCount)
                .Select(i => new Column(reader.GetName(i), reader.GetDataTypeName(i), KindOf(reader.GetFieldType(i))))
                .ToList();
            var rows = new List<object?[]>();
            while (await reader.ReadAsync())
            {
                var row = new object?[reader.FieldCount];
                for (var i = 0; i < row.Length; i++)
                {
                    row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                }
                rows.Add(row);
            }
            return new QueryResult(columns, rows);
        }
        catch (PostgresException e)
        {
            throw new InvalidOperationException($"{e.MessageText} in:\n{expanded}", e);
        }
    }

    private static void AssertTimeSeries(QueryResult result, string context)
    {
        Assert.True(result.Columns[0].Name == "time", $"{context}: the first column must be \"time\", got {result.Columns[0].Name}");
        Assert.True(result.Columns[0].Kind is Kind.Number or Kind.Time, $"{context}: time is {result.Columns[0].Type}");
        foreach (var column in result.Columns.Skip(1))
        {
            Assert.True(column.Name == "metric" ? column.Kind == Kind.Text : column.Kind == Kind.Number,
                $"{context}: column {column.Name} is {column.Type}");
        }
        Assert.Contains(result.Columns.Skip(1), c => c.Kind == Kind.Number);
        var times = result.Rows.Select(r => Convert.ToDouble(r[0] is DateTime t ? new DateTimeOffset(t).ToUnixTimeSeconds() : r[0])).ToList();
        Assert.True(times.SequenceEqual(times.Order()), $"{context}: rows are not ordered by time");
        Assert.Contains(result.Rows, r => r.Skip(1).Any(v => v is double or decimal or long or int));
    }

    private static Kind KindOf(Type type) =>
        type == typeof(string) ? Kind.Text
        : type == typeof(DateTime) || type == typeof(DateTimeOffset) ? Kind.Time
        : type == typeof(double) || type == typeof(decimal) || type == typeof(long) || type == typeof(int) || type == typeof(short)
          || type == typeof(float) ? Kind.Number
        : throw new InvalidOperationException($"unexpected column type {type}");

    private static IEnumerable<string> DataSourceReferences(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "datasource" && property.Value.ValueKind == JsonValueKind.Object)
                {
                    yield return property.Value.GetProperty("uid").GetString()!;
                }
                foreach (var inner in DataSourceReferences(property.Value))
                {
                    yield return inner;
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                foreach (var inner in DataSourceReferences(item))
                {
                    yield return inner;
                }
            }
        }
    }

    private sealed record Column(string Name, string Type, Kind Kind);

    private sealed record QueryResult(IReadOnlyList<Column> Columns, IReadOnlyList<object?[]> Rows);

    private sealed record Panel(string Title, string Type, string Format, string Sql);

    private sealed record Dashboard(IReadOnlyList<DashboardVariable> Variables, IReadOnlyDictionary<string, string> VariableQueries, IReadOnlyList<Panel> Panels)
    {
        public static Dashboard Load(string file)
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            var variables = new List<DashboardVariable>();
            var queries = new Dictionary<string, string>();
            foreach (var variable in json.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
            {
                var name = variable.GetProperty("name").GetString()!;
                var allValue = variable.TryGetProperty("allValue", out var all) && all.ValueKind == JsonValueKind.String ? all.GetString() : null;
                variables.Add(new DashboardVariable(name, allValue, []));
                if (variable.GetProperty("type").GetString() == "query")
                {
                    queries[name] = variable.GetProperty("query").GetString()!;
                }
            }
            var panels = new List<Panel>();
            foreach (var panel in AllPanels(json.RootElement.GetProperty("panels")))
            {
                if (panel.GetProperty("type").GetString() == "row")
                {
                    continue;
                }
                var target = Assert.Single(panel.GetProperty("targets").EnumerateArray());
                panels.Add(new Panel(panel.GetProperty("title").GetString()!, panel.GetProperty("type").GetString()!,
                    target.GetProperty("format").GetString()!, target.GetProperty("rawSql").GetString()!));
            }
            return new Dashboard(variables, queries, panels);
        }

        private static IEnumerable<JsonElement> AllPanels(JsonElement panels)
        {
            foreach (var panel in panels.EnumerateArray())
            {
                yield return panel.Clone();
                if (panel.TryGetProperty("panels", out var inner))
                {
                    foreach (var nested in AllPanels(inner))
                    {
                        yield return nested;
                    }
                }
            }
        }
    }
}
