package bulkcreate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/app"
	"github.com/hookd/hookd/internal/bulkcreate"
	"github.com/hookd/hookd/internal/hookdtest"
)

func adminSend(h *hookdtest.Hookd, key string) bulkcreate.Send {
	return bulkcreate.HTTPSend(http.DefaultClient, h.URL, http.Header{"Authorization": {"Bearer " + key}})
}

// listed returns the URLs of every endpoint the admin key lists.
func listed(t *testing.T, h *hookdtest.Hookd) map[string]bool {
	t.Helper()
	out, cursor := map[string]bool{}, ""
	for {
		status, body := h.Do(t, http.MethodGet, "/v1/endpoints?limit=250&cursor="+cursor, nil)
		if status == http.StatusTooManyRequests {
			t.Fatalf("list: %d: the test's own requests are over the key's rate", status)
		}
		var page struct {
			Data       []struct{ URL string }
			HasMore    bool   `json:"has_more"`
			NextCursor string `json:"next_cursor"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("list: %d %.300s", status, body)
		}
		for _, e := range page.Data {
			out[e.URL] = true
		}
		if !page.HasMore {
			return out
		}
		cursor = page.NextCursor
	}
}

// Items spread over several requests come back one result per item, in
// the order given; an error names the item by its place in the whole
// list, not in its request; every good item exists, no bad one does.
func TestCreateSplitsAndKeepsOrder(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	items := make([]json.RawMessage, 230)
	for i := range items {
		filter := fmt.Sprintf("data.n == %d", i)
		if i%50 == 7 {
			filter = "data.n =="
		}
		items[i] = json.RawMessage(fmt.Sprintf(`{"url":"https://x.example/%d","filter":%q}`, i, filter))
	}
	requests := 0
	send := adminSend(h, hookdtest.AdminKey)
	counting := func(ctx context.Context, body []byte) (bulkcreate.Answer, error) {
		requests++ // one at a time: Parallel is 1
		return send(ctx, body)
	}
	var lastDone int
	res, err := bulkcreate.Create(context.Background(), items, counting, bulkcreate.Options{ChunkItems: 50, Parallel: 1,
		Progress: func(done, total int) { lastDone = done }})
	if err != nil {
		t.Fatal(err)
	}
	if requests != 5 || lastDone != len(items) {
		t.Fatalf("%d requests for 230 items by 50 (want 5); progress ended at %d", requests, lastDone)
	}
	urls := listed(t, h)
	for i, r := range res {
		bad := i%50 == 7
		switch {
		case r.Index != i:
			t.Fatalf("result %d is of item %d", i, r.Index)
		case bad && (r.Status != 400 || r.Error.Field != fmt.Sprintf("items[%d].filter", i)):
			t.Errorf("item %d: %d %+v, want 400 naming items[%d].filter", i, r.Status, r.Error, i)
		case !bad && (!r.Created() || !strings.Contains(string(r.Endpoint), fmt.Sprintf(`"url":"https://x.example/%d"`, i))):
			t.Errorf("item %d: %d %s %+v, want its endpoint created", i, r.Status, r.Endpoint, r.Error)
		}
		if urls[fmt.Sprintf("https://x.example/%d", i)] == bad {
			t.Errorf("item %d (bad: %v) exists: %v", i, bad, !bad)
		}
	}
}

// Requests the server refuses whole for its rate limit (429 with
// Retry-After) are sent again: every item ends up created, once.
func TestCreateRetriesRateLimitedRequests(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true, APIKeyRateLimit: 1}) // burst 2
	items := make([]json.RawMessage, 60)
	for i := range items {
		items[i] = json.RawMessage(fmt.Sprintf(`{"url":"https://x.example/%d"}`, i))
	}
	limited := 0
	var send bulkcreate.Send
	watching := func(ctx context.Context, body []byte) (bulkcreate.Answer, error) {
		ans, err := send(ctx, body)
		if err == nil && ans.Status == http.StatusTooManyRequests {
			limited++ // one at a time: Parallel is 1
		}
		return ans, err
	}
	// Another key creates, so that the admin key's listing is not limited.
	status, out := h.Do(t, http.MethodPost, "/v1/keys", `{"name":"importer","scope":"admin"}`)
	var key struct{ Key string }
	if status != http.StatusCreated || json.Unmarshal(out, &key) != nil {
		t.Fatalf("create key: %d %s", status, out)
	}
	send = adminSend(h, key.Key)
	res, err := bulkcreate.Create(context.Background(), items, watching, bulkcreate.Options{ChunkItems: 15, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	if limited == 0 {
		t.Fatal("4 requests at 1/s (burst 2) were never limited: the test shows nothing")
	}
	for i, r := range res {
		if !r.Created() {
			t.Errorf("item %d: %d %+v", i, r.Status, r.Error)
		}
	}
	if n := len(listed(t, h)); n != len(items) {
		t.Fatalf("%d endpoints exist, want %d (each once)", n, len(items))
	}
}

// A request refused whole for a reason every request shares (a wrong key)
// stops the run: ErrStopped, the refusal as the items' error, nothing
// created, and the items never sent say so.
func TestCreateStopsOnARefusedRequest(t *testing.T) {
	h := hookdtest.Start(t, app.Config{NoRouter: true, NoWorker: true})
	items := make([]json.RawMessage, 30)
	for i := range items {
		items[i] = json.RawMessage(`{"url":"https://x.example"}`)
	}
	res, err := bulkcreate.Create(context.Background(), items, adminSend(h, "hk_wrong"), bulkcreate.Options{ChunkItems: 10, Parallel: 1})
	if !errors.Is(err, bulkcreate.ErrStopped) || !strings.Contains(err.Error(), "401 unauthorized") {
		t.Fatalf("error %v, want ErrStopped with the 401", err)
	}
	if r := res[0]; r.Status != 401 || r.Error.Code != "unauthorized" {
		t.Errorf("item 0: %+v", r)
	}
	if r := res[29]; r.Status != 0 || r.Error.Code != "not_sent" {
		t.Errorf("item 29: %+v, want not_sent", r)
	}
	if n := len(listed(t, h)); n != 0 {
		t.Fatalf("%d endpoints created", n)
	}
}

// A request that gets no answer is never sent again (it may have created
// its items): its items are "unknown", the run stops.
func TestCreateNeverResendsUnanswered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			conn.Close() // reads nothing, answers nothing
		}
	}()
	t.Cleanup(func() { ln.Close() })
	items := []json.RawMessage{json.RawMessage(`{"url":"https://x.example/1"}`), json.RawMessage(`{"url":"https://x.example/2"}`)}
	send := bulkcreate.HTTPSend(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, "http://"+ln.Addr().String(), nil)
	res, err := bulkcreate.Create(context.Background(), items, send, bulkcreate.Options{ChunkItems: 1, Parallel: 1})
	if !errors.Is(err, bulkcreate.ErrStopped) {
		t.Fatalf("error %v, want ErrStopped", err)
	}
	if res[0].Status != 0 || res[0].Error.Code != "unknown" || res[1].Error.Code != "not_sent" {
		t.Fatalf("results %+v %+v, want unknown then not_sent", res[0].Error, res[1].Error)
	}
	if n := len(accepted); n != 1 {
		t.Fatalf("%d connections, want 1: the unanswered request was sent again", n)
	}
}
