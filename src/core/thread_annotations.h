// Clang thread-safety analysis attributes (-Wthread-safety).
//
// Under clang these expand to the attributes the analysis checks at compile
// time; under gcc (the release compiler) they expand to nothing. `make lint`
// runs clang-tidy with -Wthread-safety, so a member read without its mutex,
// or a REQUIRES helper called without the lock, fails the lint.
//
//   GUARDED_BY(mu)        data member: read/write only while holding mu
//   PT_GUARDED_BY(mu)     pointer member: the pointee is guarded by mu
//   REQUIRES(mu...)       function: the caller must hold mu
//   EXCLUDES(mu...)       function: the caller must not hold mu (it locks it)
//   ACQUIRE / RELEASE     function locks / unlocks the capability
//   TRY_ACQUIRE(ok, mu)   function locks when it returns `ok`
//   ASSERT_CAPABILITY(mu) function checks at run time that mu is held
//   RETURN_CAPABILITY(mu) function returns a reference to mu
//   CAPABILITY(name)      class is a lock (pgcdc::Mutex)
//   SCOPED_CAPABILITY     class is an RAII lock holder (pgcdc::MutexLock)
//   NO_THREAD_SAFETY_ANALYSIS  function is not checked (say why next to it)
//
// See docs/development.md, "Static analysis".
#pragma once

#if defined(__clang__)
#define PGCDC_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define PGCDC_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) PGCDC_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY PGCDC_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) PGCDC_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) PGCDC_THREAD_ANNOTATION(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) PGCDC_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) PGCDC_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define REQUIRES(...) PGCDC_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) PGCDC_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) PGCDC_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) PGCDC_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) PGCDC_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) PGCDC_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) PGCDC_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) PGCDC_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) PGCDC_THREAD_ANNOTATION(assert_capability(x))
#define RETURN_CAPABILITY(x) PGCDC_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS PGCDC_THREAD_ANNOTATION(no_thread_safety_analysis)
