package app_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/embedded"
	"github.com/hookd/hookd/internal/hookdtest"
)

// A second hookd on a data directory in use is refused at once with an
// error naming the directory, and the first one carries on delivering.
func TestSecondHookdOnOneDataDirIsRefused(t *testing.T) {
	rc := hookdtest.NewReceiver(t)
	cfg := fastConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	h := hookdtest.Start(t, cfg)

	second := fastConfig()
	second.DataDir, second.HTTPAddr, second.Logger = cfg.DataDir, "127.0.0.1:0", hookdtest.Logger()
	begin := time.Now()
	a, err := app.New(context.Background(), second)
	if err == nil {
		done := make(chan error, 1)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { done <- a.Run(ctx) }()
		cancel()
		<-done
		t.Fatal("a second hookd started on the same data directory")
	}
	if !errors.Is(err, embedded.ErrStoreDirLocked) || !strings.Contains(err.Error(), cfg.DataDir) {
		t.Errorf("err = %v, want ErrStoreDirLocked naming %s", err, cfg.DataDir)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("refused after %s, want at once", took)
	}

	ep := h.CreateEndpoint(t, `{"url":"`+rc.URL+`/hook","events":["dir.*"]}`)
	h.PublishEvent(t, "dir.checked", map[string]any{"n": 1})
	hookdtest.WaitFor(t, 10*time.Second, "the first hookd delivers", func() bool { return rc.Count() == 1 })
	if status, _ := h.Do(t, http.MethodGet, "/v1/endpoints/"+ep.ID, nil); status != http.StatusOK {
		t.Errorf("first hookd's endpoint: %d", status)
	}
}
