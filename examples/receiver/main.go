// Command receiver is a webhook receiver for trying hookd: it verifies each
// delivery's Standard Webhooks signature with the official library and
// prints the event.
//
//	go run ./examples/receiver --secret whsec_... --listen 127.0.0.1:9000
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "listen address")
	secret := flag.String("secret", os.Getenv("WEBHOOK_SECRET"), "the endpoint's signing secret (whsec_...); env WEBHOOK_SECRET")
	flag.Parse()
	wh, err := standardwebhooks.NewWebhook(*secret)
	if err != nil || *secret == "" {
		log.Fatalf("--secret: the endpoint's whsec_ secret is required (%v)", err)
	}
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		// Verify rejects a wrong signature and a timestamp more than five
		// minutes away, which stops replays.
		if err := wh.Verify(body, r.Header); err != nil {
			log.Printf("REJECTED %s: %v", r.Header.Get("webhook-id"), err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// Deliveries are at least once: de-duplicate on webhook-id.
		fmt.Printf("verified %s: %s\n", r.Header.Get("webhook-id"), body)
		w.WriteHeader(http.StatusNoContent)
	})
	log.Printf("receiving on http://%s/", *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
