package delivery

import "errors"

// ErrDirectDeclined is returned by a direct deliverer (the fast path,
// worker.Worker.Direct) for a delivery it did not attempt: the router
// queues it as usual.
var ErrDirectDeclined = errors.New("delivery not taken directly")
