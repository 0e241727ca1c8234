use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
struct Counting;
static CUR: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let c = CUR.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(c, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        CUR.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;
fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let t = std::time::Instant::now();
    let repo = flagstone::load::load(&dir).unwrap();
    let t1 = t.elapsed();
    let after_load = CUR.load(Relaxed);
    let now_millis = flagstone::literal::parse_timestamp("2026-11-26T12:00:00Z").unwrap();
    let d = flagstone::check::check(
        &repo,
        &flagstone::check::Options {
            today: now_millis / 86_400_000,
            now_millis,
        },
    );
    let t2 = t.elapsed();
    let text: usize = repo.files.iter().map(|f| f.text.len()).sum();
    eprintln!(
        "load {t1:?} check {:?} diags {} text {text} live-after-load {} peak {}",
        t2 - t1,
        d.len(),
        after_load,
        PEAK.load(Relaxed)
    );
}
