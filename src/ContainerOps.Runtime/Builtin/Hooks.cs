using System.Diagnostics;
using ContainerOps.Core.Api;
using ContainerOps.Runtime.Spec;

namespace ContainerOps.Runtime.Builtin;

/// <summary>
/// The spec's lifecycle hooks that run after the setup. `poststart` (after the container's process has started) and
/// `poststop` (after the container is deleted) run here in the runtime's namespaces, with the container's state on
/// stdin, as the spec has them: a failing one is a warning and the operation goes on. The hooks that run while the
/// container is set up (`prestart`, `createRuntime`, `createContainer`, `startContainer`) are the shim's, which
/// stops before it changes the container's root for them (PlanWriter's hook lines).
/// </summary>
public static class Hooks
{
    /// <summary>Runs <paramref name="hooks"/> in order with <paramref name="state"/> (the OCI state JSON) on stdin; a hook
    /// that fails or outlives its timeout is reported on stderr and the rest still run.</summary>
    public static void RunAndWarn(IReadOnlyList<OciHook>? hooks, string phase, string state)
    {
        if (hooks is null) return;
        foreach (var hook in hooks)
        {
            var problem = Run(hook, state);
            if (problem is not null) Console.Error.WriteLine($"warning: {phase} hook {hook.Path}: {problem}");
        }
    }

    /// <summary>Null when the hook exited 0, else what went wrong.</summary>
    private static string? Run(OciHook hook, string state)
    {
        var psi = new ProcessStartInfo(hook.Path) { RedirectStandardInput = true, UseShellExecute = false };
        // args[0] is the hook's argv[0], as execve takes it.
        if (hook.Args is { Count: > 0 } args) foreach (var a in args.Skip(1)) psi.ArgumentList.Add(a);
        if (hook.Env is not null)
        {
            psi.Environment.Clear();
            foreach (var e in hook.Env)
            {
                var eq = e.IndexOf('=');
                if (eq > 0) psi.Environment[e[..eq]] = e[(eq + 1)..];
            }
        }
        try
        {
            using var p = Process.Start(psi)!;
            try
            {
                p.StandardInput.Write(state);
                p.StandardInput.Close();
            }
            catch (IOException) { } // a hook need not read its stdin
            var timeout = hook.Timeout is > 0 ? TimeSpan.FromSeconds(hook.Timeout.Value) : Timeout.InfiniteTimeSpan;
            if (!p.WaitForExit(timeout))
            {
                p.Kill(entireProcessTree: true);
                return $"did not end within {hook.Timeout} s and was killed";
            }
            return p.ExitCode == 0 ? null : $"exited {p.ExitCode}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            return e.Message;
        }
    }
}
