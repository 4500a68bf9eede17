// The hand-over of "encode the next message while the current one is being
// written" for a writer that allows one write in flight and reports its
// completion on another thread (a gRPC callback reactor; kept free of gRPC
// headers). Whoever finishes last — the encoder or the write — goes on with
// the next write, so exactly one thread drives the stream at a time:
//
//   encoder: Started(rows); StartWrite(m); next = Encode(); if (Encoded()) loop;
//   on write completion: if (WriteDone(ok).go_on) continue the loop there.
//
// The message encoded ahead needs no lock of its own: it is written before
// Encoded() and read only by the thread that goes on after it.
#pragma once

#include <cstddef>

#include "core/mutex.h"

namespace pgcdc::adapter::arrow {

class WriteAhead {
 public:
  // A write of `rows` rows is about to start; encoding the next one begins.
  void Started(size_t rows) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    encoding_ = true;
    rows_ = rows;
  }
  // The next message is encoded: true when the write finished meanwhile (the
  // caller goes on), false when its completion will.
  bool Encoded() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    encoding_ = false;
    const bool done = write_done_;
    write_done_ = false;
    return done;
  }
  struct Done {
    size_t rows = 0;     // rows of the finished write (0 when it failed)
    bool go_on = false;  // the caller continues (the encoding is finished)
  };
  Done WriteDone(bool ok) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (!ok) failed_ = true;
    Done d{.rows = ok ? rows_ : 0, .go_on = !encoding_};
    if (encoding_) write_done_ = true;
    return d;
  }
  // A write failed (the peer went away): end the stream.
  bool failed() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    return failed_;
  }

 private:
  Mutex mu_;
  bool encoding_ GUARDED_BY(mu_) = false;
  bool write_done_ GUARDED_BY(mu_) = false;
  bool failed_ GUARDED_BY(mu_) = false;
  size_t rows_ GUARDED_BY(mu_) = 0;
};

}  // namespace pgcdc::adapter::arrow
