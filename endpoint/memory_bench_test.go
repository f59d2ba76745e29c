package endpoint

import (
	"runtime"
	"slices"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// heapInUse returns the bytes of live heap objects after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // the second one frees what the first one's cleanups released
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkEndpointMemory loads 100,000 endpoints as hookd bench creates
// them (events "bench.*", each its own filter `data.tenant == "t-<i>"`)
// into a registry, and reports the live heap per endpoint: all of it, and
// the part the snapshot's maps and indexes take beyond the compiled
// endpoints. One iteration is enough (-benchtime 1x); the time is the
// registry's load.
func BenchmarkEndpointMemory(b *testing.B) {
	const n = 100000
	entries := make([]jetstream.KeyValueEntry, n)
	for i := range entries {
		entries[i] = benchPut(b, i, 0)
	}
	for b.Loop() {
		b.StopTimer()
		before := heapInUse()
		b.StartTimer()
		r := quietRegistry()
		r.applyAll(entries)
		b.StopTimer()
		total := heapInUse() - before
		list := slices.Clone(r.Snapshot().All()) // the compiled endpoints alone
		r = nil
		compiled := heapInUse() - before - uint64(cap(list))*8
		runtime.KeepAlive(list)
		b.ReportMetric(float64(total)/n, "B/endpoint")
		b.ReportMetric(float64(total-compiled)/n, "index-B/endpoint")
		b.StartTimer()
	}
	runtime.KeepAlive(entries)
}
