namespace ContainerOps.Core;

/// <summary>Reports by calling a function on the reporting thread (System.Progress posts to a synchronization
/// context or the thread pool instead, so reports could arrive late or out of order).</summary>
public sealed class CallbackProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
