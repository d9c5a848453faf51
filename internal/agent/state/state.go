package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// State is what the agent has checkpointed: one entry per log file it reads.
// Encode and Decode turn it into the bytes of a state file and back; Save and
// Load write and read that file.
type State struct {
	Entries []Entry
}

// Entry is the checkpoint of one log file.
type Entry struct {
	// Identity is the file's identity when it was last read; match it with
	// Identity.SameFile before resuming at Offset.
	Identity Identity
	// Path is where the file was last seen; the kubelet renames a file when
	// it rotates it, so Path is a hint and Identity decides.
	Path string
	// Offset is the byte offset just after the last line the server
	// acknowledged: where reading resumes.
	Offset int64
	// UpdatedAt is when Offset was last moved. It is kept to the nanosecond,
	// in UTC.
	UpdatedAt time.Time
}

// Limits of the format, which Encode enforces and Decode checks.
const (
	MaxEntries = 1 << 16 // entries in a state
	MaxPathLen = 4096    // bytes of an entry's Path
)

// The errors of Decode and Load, wrapped with what was found; the caller
// decides whether to start over without the state.
var (
	ErrTruncated      = errors.New("state file truncated")
	ErrCorrupt        = errors.New("state file corrupt")
	ErrUnknownVersion = errors.New("state file of an unknown version")
)

// The state file, version 1, little endian:
//
//	magic "KLST" | version uint16 | entry count uint32 | body length uint32
//	body: per entry
//	  dev uint64 | ino uint64 | fingerprint [16]byte | fingerprint length uint16
//	  offset int64 | updated at: Unix seconds int64, nanoseconds uint32
//	  path length uint16 | path
//	CRC-32C of all the bytes before it, uint32
const (
	magic       = "KLST"
	version     = 1
	headerSize  = 4 + 2 + 4 + 4
	entryFixed  = 8 + 8 + 16 + 2 + 8 + 8 + 4 + 2
	trailerSize = 4
	// maxFileSize bounds the state file that Load reads.
	maxFileSize = headerSize + MaxEntries*(entryFixed+MaxPathLen) + trailerSize
)

// castagnoli is the CRC-32C table of the checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcOf returns the checksum of b.
func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Encode returns the bytes of the state file that holds s. It fails if s
// breaks a limit of the format: more than MaxEntries entries, a Path longer
// than MaxPathLen, a negative Offset or a FingerprintLen out of 0 to
// FingerprintSize.
func Encode(s *State) ([]byte, error) {
	if len(s.Entries) > MaxEntries {
		return nil, fmt.Errorf("state: encode: %d entries; at most %d fit", len(s.Entries), MaxEntries)
	}
	body := 0
	for i, e := range s.Entries {
		switch {
		case len(e.Path) > MaxPathLen:
			return nil, fmt.Errorf("state: encode: entry %d: path of %d bytes; at most %d fit", i, len(e.Path), MaxPathLen)
		case e.Offset < 0:
			return nil, fmt.Errorf("state: encode: entry %d (%s): negative offset %d", i, e.Path, e.Offset)
		case e.Identity.FingerprintLen < 0 || e.Identity.FingerprintLen > FingerprintSize:
			return nil, fmt.Errorf("state: encode: entry %d (%s): fingerprint length %d out of 0 to %d", i, e.Path, e.Identity.FingerprintLen, FingerprintSize)
		}
		body += entryFixed + len(e.Path)
	}
	b := make([]byte, 0, headerSize+body+trailerSize)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Entries)))
	b = binary.LittleEndian.AppendUint32(b, uint32(body))
	for _, e := range s.Entries {
		id := e.Identity
		b = binary.LittleEndian.AppendUint64(b, id.Dev)
		b = binary.LittleEndian.AppendUint64(b, id.Ino)
		b = append(b, id.Fingerprint[:]...)
		b = binary.LittleEndian.AppendUint16(b, uint16(id.FingerprintLen))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.Offset))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.UpdatedAt.Unix()))
		b = binary.LittleEndian.AppendUint32(b, uint32(e.UpdatedAt.Nanosecond()))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(e.Path)))
		b = append(b, e.Path...)
	}
	return binary.LittleEndian.AppendUint32(b, crcOf(b)), nil
}

// Decode returns the state that data, the bytes of a state file, holds. A
// file cut short is ErrTruncated, one of another version ErrUnknownVersion,
// and any other damage ErrCorrupt. What Decode returns, Encode turns back
// into data.
func Decode(data []byte) (*State, error) {
	s, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("state: decode: %w", err)
	}
	return s, nil
}

// decode is Decode, its errors without context.
func decode(data []byte) (*State, error) {
	if len(data) < len(magic) {
		if string(data) != magic[:len(data)] {
			return nil, fmt.Errorf("%w: no %q magic", ErrCorrupt, magic)
		}
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header", ErrTruncated, len(data))
	}
	if string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: no %q magic", ErrCorrupt, magic)
	}
	if len(data) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header", ErrTruncated, len(data))
	}
	if v := binary.LittleEndian.Uint16(data[4:]); v != version {
		return nil, fmt.Errorf("%w: version %d; this agent reads version %d", ErrUnknownVersion, v, version)
	}
	count := binary.LittleEndian.Uint32(data[6:])
	bodyLen := binary.LittleEndian.Uint32(data[10:])
	want := uint64(headerSize) + uint64(bodyLen) + trailerSize
	switch {
	case uint64(len(data)) < want:
		return nil, fmt.Errorf("%w: %d bytes; the header says %d", ErrTruncated, len(data), want)
	case uint64(len(data)) > want:
		return nil, fmt.Errorf("%w: %d bytes after the end the header says", ErrCorrupt, uint64(len(data))-want)
	}
	end := int(want) - trailerSize
	if got, sum := crcOf(data[:end]), binary.LittleEndian.Uint32(data[end:]); got != sum {
		return nil, fmt.Errorf("%w: checksum %08x; the file says %08x", ErrCorrupt, got, sum)
	}
	if count > MaxEntries || uint64(count)*entryFixed > uint64(bodyLen) {
		return nil, fmt.Errorf("%w: %d entries in a body of %d bytes", ErrCorrupt, count, bodyLen)
	}

	body := data[headerSize:end]
	// paths holds every path's bytes in one string, which the entries' paths
	// are cut from.
	paths := string(body)
	s := &State{}
	if count > 0 {
		s.Entries = make([]Entry, count)
	}
	off := 0
	for i := range s.Entries {
		if len(body)-off < entryFixed {
			return nil, fmt.Errorf("%w: entry %d cut at byte %d of the body", ErrCorrupt, i, off)
		}
		p := body[off:]
		e := &s.Entries[i]
		e.Identity.Dev = binary.LittleEndian.Uint64(p[0:])
		e.Identity.Ino = binary.LittleEndian.Uint64(p[8:])
		copy(e.Identity.Fingerprint[:], p[16:32])
		e.Identity.FingerprintLen = int(binary.LittleEndian.Uint16(p[32:]))
		e.Offset = int64(binary.LittleEndian.Uint64(p[34:]))
		sec := int64(binary.LittleEndian.Uint64(p[42:]))
		nsec := binary.LittleEndian.Uint32(p[50:])
		pathLen := int(binary.LittleEndian.Uint16(p[54:]))
		switch {
		case e.Identity.FingerprintLen > FingerprintSize:
			return nil, fmt.Errorf("%w: entry %d: fingerprint length %d", ErrCorrupt, i, e.Identity.FingerprintLen)
		case e.Offset < 0:
			return nil, fmt.Errorf("%w: entry %d: offset %d", ErrCorrupt, i, e.Offset)
		case nsec >= uint32(time.Second):
			return nil, fmt.Errorf("%w: entry %d: %d nanoseconds", ErrCorrupt, i, nsec)
		case pathLen > MaxPathLen || pathLen > len(p)-entryFixed:
			return nil, fmt.Errorf("%w: entry %d: path of %d bytes", ErrCorrupt, i, pathLen)
		}
		e.UpdatedAt = time.Unix(sec, int64(nsec)).UTC()
		start := off + entryFixed
		e.Path = paths[start : start+pathLen]
		off = start + pathLen
	}
	if off != len(body) {
		return nil, fmt.Errorf("%w: %d bytes after the last entry", ErrCorrupt, len(body)-off)
	}
	return s, nil
}
