// libtorch's random generator is process-wide: a test that seeds it and draws must not interleave with one that draws
// (a layer's initialisation), so this assembly's tests run one at a time (they take about a second in all).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
