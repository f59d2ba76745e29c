package endpoint_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/endpoint"
	"github.com/hookd/hookd/internal/hookdtest"
)

// BenchmarkRegistryFollow creates 100,000 endpoints as hookd bench does
// (events "bench.*", each its own filter) through the Store into a real
// bucket, 8 writers at once, while a Registry follows it, and reports how
// long the writes took and how long until the registry showed every
// endpoint. Run with -benchtime 1x.
func BenchmarkRegistryFollow(b *testing.B) {
	const n, writers = 100000, 8
	for b.Loop() {
		b.StopTimer()
		ctx, cancel := context.WithCancel(context.Background())
		kv := endpointsBucket(b)
		store := endpoint.NewStore(kv)
		reg := endpoint.NewRegistry(kv, hookdtest.Logger())
		go func() { _ = reg.Run(ctx) }()
		<-reg.Ready()
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("ep_01jbench%09d", i)
		}
		b.StartTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := w; i < n; i += writers {
					e := &endpoint.Endpoint{ID: ids[i], URL: fmt.Sprintf("http://127.0.0.1:41234/e/%d", i), Events: []string{"bench.*"},
						Filter: fmt.Sprintf(`data.tenant == "t-%d"`, i), Name: fmt.Sprintf("bench %d", i), Secret: endpoint.NewSecret()}
					if _, err := store.Create(ctx, e); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		written := make(chan time.Duration, 1)
		go func() { wg.Wait(); written <- time.Since(start) }()
		// Polls by id, not by count: the same code measures registries
		// whose All costs O(n).
		seen, deadline := 0, time.Now().Add(10*time.Minute)
		for seen < n && time.Now().Before(deadline) {
			snap := reg.Snapshot()
			for seen < n && snap.Get(ids[seen]) != nil {
				seen++
			}
			if seen < n {
				time.Sleep(5 * time.Millisecond) // the polling interval
			}
		}
		shown := time.Since(start)
		b.StopTimer()
		if seen < n {
			b.Fatalf("the registry showed %d of %d endpoints", seen, n)
		}
		b.ReportMetric((<-written).Seconds(), "s-writes")
		b.ReportMetric(shown.Seconds(), "s-registry")
		cancel()
		b.StartTimer() // b.Loop wants it running
	}
}
