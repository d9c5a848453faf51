package kapi

import (
	"context"
	"database/sql"
	"log/slog"
)

// Config configures a Service.
type Config struct {
	// DB is the metadata database holding the objects; nil keeps them in
	// memory.
	DB *sql.DB
	// Collector streams the pods; nil when no cluster is collected (the
	// objects then report that in their status).
	Collector Collector
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// Version is reported by /version.
	Version string
}

// Service is the API group running: the objects, the controller that drives
// collection, and the HTTP handler. Close must be called.
type Service struct {
	*Handler
	Objects    *Objects
	controller *Controller
}

// Start loads the objects and starts the controller.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	objs, err := OpenObjects(ctx, cfg.DB, nil)
	if err != nil {
		return nil, err
	}
	return &Service{
		Handler:    NewHandler(objs, cfg.Logger, cfg.Version),
		Objects:    objs,
		controller: StartController(objs, cfg.Collector, cfg.Logger),
	}, nil
}

// Close stops the controller and ends the watches. Call it before closing
// the collector and the database.
func (s *Service) Close() {
	s.controller.Close()
	s.Objects.Close()
}
