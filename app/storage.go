package app

import (
	"github.com/hookd/hookd/httpapi"
)

// watchStorage watches the embedded server's data directory (see
// embedded.Storage), as a part of its own.
func (a *App) watchStorage() error {
	cfg := a.cfg.Storage
	if cfg.Logger == nil {
		cfg.Logger = a.log
	}
	st, err := a.ns.Storage(cfg)
	if err != nil {
		return err
	}
	a.storage = st
	a.sup.Add("storage", st)
	return nil
}

// storageState is what the API asks about storage; nil (not a nil
// pointer in an interface) without an embedded server.
func (a *App) storageState() httpapi.StorageState {
	if a.storage == nil {
		return nil
	}
	return a.storage
}

// storageErr is why storage refuses writes, nil when it takes them or
// hookd cannot tell.
func (a *App) storageErr() error {
	if a.storage == nil {
		return nil
	}
	return a.storage.Err()
}
