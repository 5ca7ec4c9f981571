package bitscale

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// A BatchJournal records what RunBatch does with each row before it does
// it, so that a batch run again after a crash, even a SIGKILL or a power
// cut, never sends a row that may have run, and never loses a result: give
// the rerun the same rows and the same journal, or one reopened from the
// same storage.
//
// RunBatch calls Record from several goroutines at once. Record must store
// the entry durably before it returns: a row's run is sent only once its
// JournalSending entry is stored, and a row whose entry cannot be stored
// is not sent. Last returns the latest entry stored for a row.
//
// JournalFile keeps a journal in a file; a table keyed by row suits a
// service that keeps its batches in a database.
type BatchJournal interface {
	Last(row int) (JournalEntry, bool)
	Record(e JournalEntry) error
}

// JournalState is how far a row had got when its journal entry was
// recorded.
type JournalState string

// The states of a journal entry.
const (
	// JournalSending: the row's run request is about to be sent, and may
	// have reached the API.
	JournalSending JournalState = "sending"
	// JournalAccepted: the API accepted the row's async run, or answered
	// its sync run before the run ended; RunID is set.
	JournalAccepted JournalState = "accepted"
	// JournalEnded: the row ended; Outcome says how.
	JournalEnded JournalState = "ended"
)

// JournalEntry is one record of a BatchJournal.
type JournalEntry struct {
	Row   int          `json:"row"`   // the row's index in the batch
	Key   string       `json:"key"`   // the grid and the row's request, hashed
	State JournalState `json:"state"` //
	RunID string       `json:"run_id,omitempty"`

	// With JournalEnded, how the row ended.
	Outcome Outcome `json:"outcome,omitempty"`
	Run     *Run    `json:"run,omitempty"`
	Credits int     `json:"credits,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// ErrJournalMismatch is matched by the error of a batch whose journal
// recorded a row with other inputs, or for another grid, than the row given
// now: the journal belongs to another batch, and trusting it could send a
// row that ran or skip one that did not.
var ErrJournalMismatch = errors.New("bitscale: the journal records other rows than the batch's")

// journalKey fingerprints a row's request to a grid, so that a journal is
// never applied to other rows than those it recorded. json.Marshal sorts
// map keys, so equal requests give equal keys.
func journalKey(gridID string, req *RunRequest) (string, error) {
	b, err := json.Marshal(struct {
		Grid    string         `json:"grid"`
		Inputs  map[string]any `json:"inputs"`
		Outputs []string       `json:"outputs,omitempty"`
	}{gridID, req.Inputs, req.OutputColumns})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// JournalFile is a BatchJournal kept in a file of JSON lines, one entry a
// line, appended to and synced to stable storage before Record returns. It
// is safe for concurrent use.
type JournalFile struct {
	mu   sync.Mutex
	f    *os.File
	path string
	last map[int]JournalEntry
	err  error // the first failed write: the file may be behind the batch
}

// OpenJournalFile opens the journal at path, creating it if it does not
// exist, and reads what it holds. A last line cut short by a crash while
// it was being written is dropped: its row's entry before it stands, which
// is what was true when the crash came. It returns an error when the file
// cannot be opened or holds a line that is not an entry elsewhere than at
// its end.
//
// The file is locked while it is open, where the system allows (Linux, the
// BSDs, macOS): two batches given one journal would each send the rows the
// other is sending, so a second open fails with ErrJournalLocked until the
// first is closed.
func OpenJournalFile(path string) (*JournalFile, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrJournalLocked, path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The file's entry in its directory must last as its lines do.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("bitscale: journal %s: %w", path, err)
		}
	}
	j := &JournalFile{f: f, path: path, last: make(map[int]JournalEntry)}
	if err := j.load(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// ErrJournalLocked is matched by the error of OpenJournalFile for a
// journal another JournalFile, in this process or another, has open.
var ErrJournalLocked = errors.New("bitscale: the journal is in use by another batch")

// syncDir syncs a directory, so that a file created in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// load reads the entries, truncates a torn last line, and leaves the file
// positioned at its end for appending.
func (j *JournalFile) load() error {
	r := bufio.NewReader(j.f)
	var good int64 // bytes of whole lines read
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break // a line without its end, if any, was cut short
		}
		if err != nil {
			return fmt.Errorf("bitscale: reading journal %s: %w", j.path, err)
		}
		good += int64(len(line))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e JournalEntry
		// unmarshal, as answers are decoded: a run's outputs may hold a
		// number too large for a float64.
		if err := unmarshal(line, &e); err != nil || e.State == "" || e.Key == "" {
			return fmt.Errorf("bitscale: journal %s, line %d: not a journal entry", j.path, n)
		}
		j.last[e.Row] = e
	}
	// Appends go to the end of the file, so what is cut short must go.
	if err := j.f.Truncate(good); err != nil {
		return fmt.Errorf("bitscale: journal %s: %w", j.path, err)
	}
	return nil
}

// Last returns the latest entry recorded for row.
func (j *JournalFile) Last(row int) (JournalEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.last[row]
	return e, ok
}

// Len returns how many rows the journal has entries for.
func (j *JournalFile) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.last)
}

// Record appends e as one line and syncs the file before returning. After
// a failed write every Record fails: a line may have been written in part.
func (j *JournalFile) Record(e JournalEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("bitscale: journal entry for row %d: %w", e.Row, err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if _, err := j.f.Write(line); err != nil {
		j.err = fmt.Errorf("bitscale: writing journal %s: %w", j.path, err)
		return j.err
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("bitscale: syncing journal %s: %w", j.path, err)
		return j.err
	}
	j.last[e.Row] = e
	return nil
}

// Close closes the file, which releases its lock.
func (j *JournalFile) Close() error { return j.f.Close() }
