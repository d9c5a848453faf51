package podlog

import (
	"errors"
	"testing"
)

func TestResume(t *testing.T) {
	p1, e1, fin := ts1+" stdout P abc\n", ts2+" stderr F oops\n", ts2+" stdout F gh\n"
	d, err := NewDecoder(FormatCRI, DefaultConfig(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	d.Feed([]byte(p1 + e1 + fin[:5]))
	l, err := d.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if want := int64(1000 + len(p1)); l.Offset != want || l.End != want+int64(len(e1)) {
		t.Fatalf("got line [%d,%d); want [%d,%d)", l.Offset, l.End, want, want+int64(len(e1)))
	}
	if _, err := d.Next(); !errors.Is(err, ErrNeedMore) {
		t.Fatalf("Next: got %v; want ErrNeedMore", err)
	}
	if got, want := d.Consumed(), int64(1000+len(p1+e1)); got != want {
		t.Fatalf("Consumed() = %d; want %d", got, want)
	}
	if got := d.Resume(); got != 1000 {
		t.Fatalf("Resume() with a line pending = %d; want 1000", got)
	}
	d.Feed([]byte(fin[5:]))
	if l, err = d.Next(); err != nil || string(l.Text) != "abcgh" {
		t.Fatalf("Next: got %q, %v; want \"abcgh\"", l.Text, err)
	}
	if got, want := d.Resume(), int64(1000+len(p1+e1+fin)); got != want || d.Consumed() != want {
		t.Fatalf("Resume() = %d, Consumed() = %d; want %d", got, d.Consumed(), want)
	}
}

func TestNewDecoderErrors(t *testing.T) {
	if _, err := NewDecoder(FormatCRI, Config{}, 0); err == nil {
		t.Fatal("NewDecoder with MaxLineSize 0: got no error")
	}
	if _, err := NewDecoder(FormatUnknown, DefaultConfig(), 0); err == nil {
		t.Fatal("NewDecoder of FormatUnknown: got no error")
	}
}

func TestFeedBeforeNeedMore(t *testing.T) {
	d, err := NewDecoder(FormatCRI, DefaultConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	d.Feed([]byte(ts1 + " stdout F a\n" + ts1 + " stdout F b\n"))
	if _, err := d.Next(); err != nil {
		t.Fatalf("Next: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Feed with input unread: got no panic")
		}
	}()
	d.Feed([]byte("x"))
}
