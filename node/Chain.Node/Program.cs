namespace Chain.Node;

public static class Program
{
    public static Task<int> Main(string[] args) => NodeHost.RunAsync(args);
}
