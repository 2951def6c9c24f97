using System.Reflection;
using System.Reflection.Emit;

namespace CyberWatch.Tests.Architecture;

/// <summary>
/// Which feature namespace uses which, read from compiled assemblies: a feature is the first namespace segment
/// after <c>CyberWatch</c> (<c>CyberWatch.Enrichment.Online</c> belongs to <c>Enrichment</c>). A use is any type
/// of another feature in a signature (base type, interfaces, fields, properties, parameters, return types,
/// generic arguments) or named by a method body's instructions (calls, object creation, casts, field access).
/// </summary>
public static class FeatureDependencies
{
    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    // Operands of these sizes follow each opcode; only metadata tokens matter here.
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>Edges feature → features it uses (itself excluded), over the types of <paramref name="assemblies"/>.</summary>
    public static Dictionary<string, HashSet<string>> Read(params Assembly[] assemblies) => Read(null, assemblies);

    /// <summary>As <see cref="Read(Assembly[])"/>; <paramref name="examples"/> gets, per edge "from -> to", the uses that make it.</summary>
    public static Dictionary<string, HashSet<string>> Read(Dictionary<string, SortedSet<string>>? examples, params Assembly[] assemblies)
    {
        var uses = new Dictionary<string, HashSet<string>>();
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()))
        {
            if (Feature(type) is not { } from)
            {
                continue;
            }
            var used = uses.TryGetValue(from, out var set) ? set : uses[from] = [];
            foreach (var referenced in Referenced(type))
            {
                if (Feature(referenced) is { } to && to != from)
                {
                    used.Add(to);
                    if (examples is not null)
                    {
                        var key = $"{from} -> {to}";
                        var list = examples.TryGetValue(key, out var l) ? l : examples[key] = new SortedSet<string>(StringComparer.Ordinal);
                        list.Add($"{Outer(type).Name} uses {Outer(referenced).Name}");
                    }
                }
            }
        }
        return uses;
    }

    // Closures and state machines are nested types: name the type a reader would open.
    private static Type Outer(Type type)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }
        return type.IsGenericType ? type.GetGenericTypeDefinition() : type;
    }

    /// <summary>The feature a type belongs to, or null for types outside <c>CyberWatch.*</c> (and Orleans' generated code).</summary>
    public static string? Feature(Type type)
    {
        var ns = type.Namespace;
        if (ns is null || !ns.StartsWith("CyberWatch.", StringComparison.Ordinal))
        {
            return null;
        }
        var rest = ns["CyberWatch.".Length..];
        var dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    /// <summary>The strongly connected groups of more than one feature: each is a cycle (or several).</summary>
    public static List<List<string>> Cycles(Dictionary<string, HashSet<string>> uses)
    {
        // Tarjan's algorithm; the graph is a few dozen nodes.
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var groups = new List<List<string>>();
        var next = 0;
        void Visit(string node)
        {
            index[node] = low[node] = next++;
            stack.Push(node);
            onStack.Add(node);
            foreach (var to in uses.GetValueOrDefault(node) ?? [])
            {
                if (!index.ContainsKey(to))
                {
                    Visit(to);
                    low[node] = Math.Min(low[node], low[to]);
                }
                else if (onStack.Contains(to))
                {
                    low[node] = Math.Min(low[node], index[to]);
                }
            }
            if (low[node] == index[node])
            {
                var group = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    group.Add(member);
                }
                while (member != node);
                if (group.Count > 1)
                {
                    groups.Add([.. group.Order(StringComparer.Ordinal)]);
                }
            }
        }
        foreach (var node in uses.Keys.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }
        return groups;
    }

    private static IEnumerable<Type> Referenced(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null || !found.Add(t))
            {
                return;
            }
            if (t.HasElementType)
            {
                Add(t.GetElementType());
            }
            if (t.IsGenericType)
            {
                foreach (var argument in t.GetGenericArguments())
                {
                    Add(argument);
                }
            }
        }
        Add(type.BaseType);
        foreach (var implemented in type.GetInterfaces())
        {
            Add(implemented);
        }
        foreach (var field in type.GetFields(Everything))
        {
            Add(field.FieldType);
        }
        foreach (var property in type.GetProperties(Everything))
        {
            Add(property.PropertyType);
        }
        foreach (var method in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
        {
            if (method is MethodInfo info)
            {
                Add(info.ReturnType);
            }
            foreach (var parameter in method.GetParameters())
            {
                Add(parameter.ParameterType);
            }
            foreach (var t in BodyReferences(method))
            {
                Add(t);
            }
        }
        return found;
    }

    /// <summary>The types a method body names: the declaring types of called methods and used fields, and type tokens.</summary>
    private static IEnumerable<Type> BodyReferences(MethodBase method)
    {
        byte[]? il;
        try
        {
            il = method.GetMethodBody()?.GetILAsByteArray();
        }
        catch (Exception e) when (e is InvalidOperationException or BadImageFormatException)
        {
            yield break;
        }
        if (il is null)
        {
            yield break;
        }
        var module = method.Module;
        Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            OpCode code;
            if (il[at] == 0xFE)
            {
                code = OpCodesByValue[unchecked((short)(0xFE00 | il[at + 1]))];
                at += 2;
            }
            else
            {
                code = OpCodesByValue[il[at]];
                at += 1;
            }
            switch (code.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    var token = BitConverter.ToInt32(il, at);
                    MemberInfo? member = null;
                    try
                    {
                        member = module.ResolveMember(token, typeArguments, methodArguments);
                    }
                    catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException or MissingMemberException)
                    {
                    }
                    if (member is Type t)
                    {
                        yield return t;
                    }
                    else if (member?.DeclaringType is { } owner)
                    {
                        yield return owner;
                        if (member is MethodInfo called)
                        {
                            yield return called.ReturnType;
                        }
                    }
                    at += 4;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    at += 1;
                    break;
                case OperandType.InlineVar:
                    at += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    at += 8;
                    break;
                case OperandType.InlineSwitch:
                    var count = BitConverter.ToInt32(il, at);
                    at += 4 + 4 * count;
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    at += 4;
                    break;
            }
        }
    }
}
