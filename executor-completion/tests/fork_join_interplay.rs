//! Fork-join (executor-core's join/scope) inside completion-service tasks.

use executor_completion::CompletionService;
use executor_core::{join, ThreadPool};

fn tree_sum(v: &[u64]) -> u64 {
    if v.len() <= 64 {
        return v.iter().sum();
    }
    let (l, r) = v.split_at(v.len() / 2);
    let (a, b) = join(|| tree_sum(l), || tree_sum(r));
    a + b
}

#[test]
fn join_inside_completion_service_tasks() {
    let pool = ThreadPool::new(2).unwrap();
    let service = CompletionService::new(pool.clone());
    for n in 0..20u64 {
        service
            .submit(move || {
                let data: Vec<u64> = (0..n * 100).collect();
                (n, tree_sum(&data))
            })
            .unwrap();
    }
    let mut seen = [false; 20];
    while let Some(done) = service.take() {
        let (n, sum) = done.get().unwrap();
        assert_eq!(sum, (0..n * 100).sum::<u64>());
        assert!(
            !std::mem::replace(&mut seen[n as usize], true),
            "delivered once"
        );
    }
    assert!(seen.iter().all(|&s| s));
}
