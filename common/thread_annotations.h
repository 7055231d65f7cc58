// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html).
// Under clang they expand to the attributes that -Wthread-safety checks
// (scripts/thread_safety.sh builds the tree that way, with -Werror); under any
// other compiler they expand to nothing. Use them with the Mutex, MutexLock and
// CondVar of common/mutex.h:
//
//   Mutex mu_;
//   int count_ GUARDED_BY(mu_) = 0;
//   void BumpLocked() REQUIRES(mu_);
//
// Use NO_THREAD_SAFETY_ANALYSIS only with a comment saying why the analysis
// cannot follow the code.
#pragma once

#if defined(__clang__)
#define MERIDIAN_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define MERIDIAN_THREAD_ANNOTATION(x)
#endif

// On a type: it is a lock ("mutex") the analysis tracks.
#define CAPABILITY(x) MERIDIAN_THREAD_ANNOTATION(capability(x))
// On an RAII type: constructing it acquires, destroying it releases.
#define SCOPED_CAPABILITY MERIDIAN_THREAD_ANNOTATION(scoped_lockable)

// On a data member: read or written only with the lock held.
#define GUARDED_BY(x) MERIDIAN_THREAD_ANNOTATION(guarded_by(x))
// On a pointer member: the pointee is read or written only with the lock held.
#define PT_GUARDED_BY(x) MERIDIAN_THREAD_ANNOTATION(pt_guarded_by(x))
// On a lock member: the order in which locks are taken.
#define ACQUIRED_BEFORE(...) MERIDIAN_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) MERIDIAN_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))

// On a function: the caller holds the lock(s) (exclusively / shared).
#define REQUIRES(...) MERIDIAN_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) MERIDIAN_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// On a function: the caller must NOT hold the lock(s) (it takes them itself).
#define EXCLUDES(...) MERIDIAN_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// On a function: it acquires / releases the lock(s) (no argument: `this`).
#define ACQUIRE(...) MERIDIAN_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) MERIDIAN_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// On a function: it acquires the lock(s) when it returns the given value.
#define TRY_ACQUIRE(...) MERIDIAN_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// On a function: it checks (at run time, or not at all) that the lock is held.
#define ASSERT_CAPABILITY(x) MERIDIAN_THREAD_ANNOTATION(assert_capability(x))
// On a function: it returns a reference to the given lock.
#define RETURN_CAPABILITY(x) MERIDIAN_THREAD_ANNOTATION(lock_returned(x))

// On a function: the analysis skips its body.
#define NO_THREAD_SAFETY_ANALYSIS MERIDIAN_THREAD_ANNOTATION(no_thread_safety_analysis)
