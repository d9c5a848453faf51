package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// eventSink writes a stream of events to a client, as Server-Sent Events or
// WebSocket messages. It is used by one goroutine.
type eventSink interface {
	// send writes one event: kind "" is an entry with id as its SSE id.
	// Events may wait in a buffer until flush.
	send(kind, id string, data []byte) error
	flush() error
	// heartbeat keeps an idle connection alive.
	heartbeat() error
	close()
}

// openSink answers the request as a WebSocket when it asks to upgrade, else
// as Server-Sent Events.
func openSink(w http.ResponseWriter, r *http.Request) (eventSink, error) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return nil, err
		}
		// Read (and drop) what the client sends, so that pings get their
		// pongs; the context ends when the client goes away.
		return &wsSink{c: c, ctx: c.CloseRead(r.Context())}, nil
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil, err
	}
	return &sseSink{w: w, rc: rc}, nil
}

type sseSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *sseSink) send(kind, id string, data []byte) error {
	var b []byte
	if kind != "" {
		b = append(b, "event: "...)
		b = append(b, kind...)
		b = append(b, '\n')
	}
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "data: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	_, err := s.w.Write(b) // #nosec G705 -- text/event-stream of JSON-encoded entries
	return err
}

func (s *sseSink) flush() error { return s.rc.Flush() }

func (s *sseSink) heartbeat() error {
	if _, err := fmt.Fprintf(s.w, ": heartbeat %s\n\n", time.Now().UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseSink) close() {}

// wsSink sends each event as one text message: the data itself for entries
// (JSON), wrapped as {"type": kind, "data": ...} for other kinds.
type wsSink struct {
	c   *websocket.Conn
	ctx context.Context
}

func (s *wsSink) send(kind, id string, data []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	if kind != "" {
		data = []byte(fmt.Sprintf(`{"type":%q,"data":%s}`, kind, data))
	}
	return s.c.Write(ctx, websocket.MessageText, data)
}

func (s *wsSink) flush() error { return nil }

func (s *wsSink) heartbeat() error {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	return s.c.Ping(ctx)
}

func (s *wsSink) close() { _ = s.c.Close(websocket.StatusNormalClosure, "") }
