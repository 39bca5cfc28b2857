//! Runs the Rust twins of the seed tutorials' examples and checks their output.
//!
//! The examples are not built by `cargo test --test examples` alone: build them
//! first with `cargo build --examples` (a plain `cargo test` also does).

use std::path::PathBuf;
use std::process::Command;

/// The built example `name`, next to this test executable's `deps` directory.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/examples-xxxx -> target/<profile>/examples/<name>
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps")
        .join("examples");
    let path = dir.join(name);
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing; run `cargo build --examples` first",
                path.display()
            )
        });
    if let Ok(edited) = std::fs::metadata(&source).and_then(|m| m.modified()) {
        assert!(
            built >= edited,
            "{} is older than {}; run `cargo build --examples` first",
            path.display(),
            source.display()
        );
    }
    path
}

/// Runs the example `name`, asserts that it succeeded, and returns its stdout.
fn run_example(name: &str) -> String {
    let path = example_path(name);
    let output = Command::new(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        output.status.success(),
        "{name} failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the example's stdout is UTF-8")
}

fn lines(stdout: &str) -> Vec<&str> {
    stdout.lines().collect()
}

fn sorted(mut lines: Vec<&str>) -> Vec<&str> {
    lines.sort_unstable();
    lines
}

/// Checks Python's `f'Выполнение заняло {t: .2f} секунд.'`: a space, then seconds with two decimals.
fn assert_elapsed_line(stdout: &str) {
    let [line] = lines(stdout)[..] else {
        panic!("expected one line, got {stdout:?}");
    };
    let seconds = line
        .strip_prefix("Выполнение заняло  ")
        .and_then(|rest| rest.strip_suffix(" секунд."))
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    let (whole, fraction) = seconds
        .split_once('.')
        .unwrap_or_else(|| panic!("no decimal point in {seconds:?}"));
    assert!(
        whole.parse::<u64>().is_ok() && fraction.len() == 2 && fraction.parse::<u8>().is_ok(),
        "not seconds with two decimals: {seconds:?}"
    );
}

#[test]
fn process_start_join_000_01_child_prints_its_line() {
    let stdout = run_example("process_start_join_000_01");
    assert_eq!(lines(&stdout), ["Рабочий процесс запущен"]);
}

#[test]
fn process_five_workers_000_02_prints_five_workers() {
    let stdout = run_example("process_five_workers_000_02");
    let expected: Vec<String> = (0..5).map(|i| format!("Процесс {i} запущен")).collect();
    assert_eq!(sorted(lines(&stdout)), expected);
}

#[test]
fn process_constructor_001_01_builder_sets_name_and_daemon() {
    let stdout = run_example("process_constructor_001_01");
    assert_eq!(
        lines(&stdout),
        [
            "Привет! (говорит Process-1)",
            "p.name = Process-1, p.daemon = false",
            "Здравствуй! (говорит greeter)",
            "p.name = greeter, p.daemon = true",
        ]
    );
}

#[test]
fn countdown_sequential_001_02_prints_elapsed_time() {
    assert_elapsed_line(&run_example("countdown_sequential_001_02"));
}

#[test]
fn countdown_parallel_001_03_prints_elapsed_time() {
    assert_elapsed_line(&run_example("countdown_parallel_001_03"));
}

#[test]
fn external_program_001_04_echo_prints_its_line_and_both_exit_codes_come_back() {
    let stdout = run_example("external_program_001_04");
    assert_eq!(
        lines(&stdout),
        [
            "Привет от внешней программы",
            "Код возврата echo: 0",
            "Код возврата false: 1",
        ]
    );
}

#[test]
fn process_start_work_join_002_01_parent_works_while_child_runs() {
    let stdout = run_example("process_start_work_join_002_01");
    assert_eq!(
        lines(&stdout),
        [
            "родитель: сумма 1..=1000 = 500500",
            "потомок ещё работает: true",
            "потомок вернул: готово",
        ]
    );
}

#[test]
fn process_sleepers_003_01_each_child_starts_before_it_ends_and_parent_prints_last() {
    let stdout = run_example("process_sleepers_003_01");
    let lines = lines(&stdout);
    assert_eq!(lines.last(), Some(&"Все процессы завершены."), "{stdout}");

    let children = &lines[..lines.len() - 1];
    let mut expected: Vec<String> = (0..5)
        .flat_map(|i| {
            [
                format!("Процесс {i} запущен."),
                format!("Процесс {i} завершён."),
            ]
        })
        .collect();
    expected.sort_unstable();
    assert_eq!(sorted(children.to_vec()), expected);

    let position = |line: String| children.iter().position(|l| *l == line);
    for i in 0..5 {
        assert!(
            position(format!("Процесс {i} запущен.")) < position(format!("Процесс {i} завершён.")),
            "child {i} ended before it started:\n{stdout}"
        );
    }
}

#[test]
fn process_name_pid_004_01_prints_each_name_with_a_distinct_pid() {
    let stdout = run_example("process_name_pid_004_01");
    let mut seen: Vec<(&str, u32)> = lines(&stdout)
        .into_iter()
        .map(|line| {
            let (name, pid) = line
                .split_once(", ID процесса: ")
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            (name, pid.parse().expect("a pid"))
        })
        .collect();
    seen.sort_unstable();
    let [("Процесс 1", pid1), ("Процесс 2", pid2)] = seen[..] else {
        panic!("expected Процесс 1 and Процесс 2 once each:\n{stdout}");
    };
    assert_ne!(pid1, pid2);
    assert_ne!(pid1, std::process::id());
}

const SQUARES_0_TO_9: &str = "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]";

#[test]
fn pool_map_000_09_prints_squares_of_range_10_in_order() {
    let stdout = run_example("pool_map_000_09");
    assert_eq!(lines(&stdout), [SQUARES_0_TO_9]);
}

#[test]
fn pool_apply_map_starmap_000_10_apply_then_map_and_starmap_give_the_same_list() {
    let stdout = run_example("pool_apply_map_starmap_000_10");
    assert_eq!(lines(&stdout), ["25", SQUARES_0_TO_9, SQUARES_0_TO_9]);
}

#[test]
fn pool_map_002_02_prints_squares_of_five_values_in_order() {
    let stdout = run_example("pool_map_002_02");
    assert_eq!(lines(&stdout), ["[1, 4, 9, 16, 25]"]);
}

#[test]
fn pool_apply_async_002_03_sync_and_async_calls_return_doubles() {
    let stdout = run_example("pool_apply_async_002_03");
    assert_eq!(
        lines(&stdout),
        ["Синхронный результат: 20", "Асинхронный результат: 30"]
    );
}

#[test]
fn pool_imap_unordered_002_04_prints_each_cube_once_in_any_order() {
    let stdout = run_example("pool_imap_unordered_002_04");
    let mut expected: Vec<String> = [8, 64, 216, 512]
        .iter()
        .map(|cube| format!("Результат по готовности: {cube}"))
        .collect();
    expected.sort_unstable();
    assert_eq!(sorted(lines(&stdout)), expected);
}

#[test]
fn pool_cpu_count_004_03_prints_squares_of_five_numbers() {
    let stdout = run_example("pool_cpu_count_004_03");
    assert_eq!(lines(&stdout), ["[1, 4, 9, 16, 25]"]);
}

#[test]
fn pool_map_squares_003_02_prints_results_after_the_pool_is_dropped() {
    let stdout = run_example("pool_map_squares_003_02");
    assert_eq!(lines(&stdout), [SQUARES_0_TO_9]);
}

#[test]
fn futures_executor_collects_as_completed_and_a_panic_fails_only_its_future() {
    let stdout = run_example("futures_executor");
    let lines = lines(&stdout);
    assert_eq!(lines.len(), 13, "{stdout}");
    assert_eq!(lines[0], "submitted 4 tasks to 2 worker processes");

    let mut expected: Vec<String> = (0..4)
        .map(|n| format!("done: slow_square({n}) = {}", n * n))
        .collect();
    expected.sort_unstable();
    assert_eq!(sorted(lines[1..5].to_vec()), expected, "{stdout}");

    assert_eq!(
        lines[5..],
        [
            "in submission order: [0, 1, 4, 9]",
            "risky(1) = 10",
            "risky(2) = 20",
            "risky(3) failed: risky refuses 3",
            "risky(4) = 40",
            "ready right away: false",
            "get_timeout(20ms): no result within 20ms",
            "after wait(): ready = true, try_get() = Some(49)",
        ]
    );
}

#[test]
fn pipe_send_recv_000_04_parent_receives_the_childs_message() {
    let stdout = run_example("pipe_send_recv_000_04");
    assert_eq!(lines(&stdout), ["Сообщение через пайп"]);
}

#[test]
fn pipe_sender_receiver_001_08_receiver_prints_what_the_sender_sent() {
    let stdout = run_example("pipe_sender_receiver_001_08");
    assert_eq!(
        lines(&stdout),
        ["Data received in receiver: Hello from sender!"]
    );
}

#[test]
fn pipe_poll_sentinel_004_14_consumer_gets_every_message_in_order_and_stops_on_the_sentinel() {
    let stdout = run_example("pipe_poll_sentinel_004_14");
    let lines = lines(&stdout);
    let messages = ["сообщение 1", "сообщение 2", "сообщение 3"];

    let sent: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("Отправлено: "))
        .collect();
    assert_eq!(sent, messages, "{stdout}");

    // The consumer's own lines: each message once, in order, never the
    // sentinel, then the closing line.
    let consumed: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| !line.starts_with("Отправлено: "))
        .collect();
    assert_eq!(
        consumed,
        [
            "Получено: сообщение 1",
            "Получено: сообщение 2",
            "Получено: сообщение 3",
            "Процесс получил все данные",
        ],
        "{stdout}"
    );
}

#[test]
fn shared_fd_001_children_append_through_passed_descriptors_and_a_sent_one_reads_them() {
    let stdout = run_example("shared_fd_001");
    let lines = lines(&stdout);
    assert_eq!(lines.len(), 5, "{stdout}");
    // Both lines are 37 bytes, and the parent's offset moved past them: the
    // children's descriptors share the parent's open file.
    assert_eq!(
        lines[..2],
        [
            "Позиция в файле после записи потомков: 74 байт",
            "Содержимое файла:"
        ],
        "{stdout}"
    );
    assert_eq!(
        sorted(lines[2..4].to_vec()),
        ["Строка от процесса 1", "Строка от процесса 2"],
        "{stdout}"
    );
    assert_eq!(
        lines[4],
        "Процесс, получивший дескриптор через Connection, прочитал строк: 2"
    );
}

#[test]
fn queue_child_to_parent_000_03_parent_gets_the_childs_message() {
    let stdout = run_example("queue_child_to_parent_000_03");
    assert_eq!(lines(&stdout), ["Привет из процесса"]);
}

#[test]
fn queue_parent_to_child_001_05_worker_gets_what_the_parent_put_after_starting_it() {
    let stdout = run_example("queue_parent_to_child_001_05");
    assert_eq!(
        lines(&stdout),
        ["Received data in worker: Hello from main process!"]
    );
}

#[test]
fn queue_producer_consumer_001_07_consumer_prints_the_list_the_producer_put() {
    let stdout = run_example("queue_producer_consumer_001_07");
    assert_eq!(lines(&stdout), ["Data received in consumer: [1, 2, 3]"]);
}

#[test]
fn queue_round_trip_003_02_parent_prints_the_childs_message() {
    let stdout = run_example("queue_round_trip_003_02");
    assert_eq!(lines(&stdout), ["Обработка завершена!"]);
}

#[test]
fn queue_writer_reader_004_04_reader_takes_every_item_in_order_and_stops_on_the_sentinel() {
    let stdout = run_example("queue_writer_reader_004_04");
    let mut expected = Vec::new();
    for item in 1..=5 {
        expected.push(format!("Процесс сообщает: {item}"));
        expected.push("Данные успешно записаны в очередь".to_string());
    }
    // The reader ends only on the sentinel, put after the writer was joined,
    // so its line and the parent's come last, once each, with every item.
    expected.push("Данные успешно прочитаны из очереди".to_string());
    expected.push("Результат из очереди: [1, 2, 3, 4, 5]".to_string());
    assert_eq!(lines(&stdout), expected, "{stdout}");
}

#[test]
fn lock_print_000_06_five_children_joined_in_turn_print_in_order() {
    let stdout = run_example("lock_print_000_06");
    let expected: Vec<String> = (0..5).map(|i| format!("Процесс {i} запущен")).collect();
    assert_eq!(lines(&stdout), expected, "{stdout}");
}

#[test]
fn event_wait_000_07_child_gets_the_signal_only_after_the_parents_prompt() {
    let stdout = run_example("event_wait_000_07");
    let lines = lines(&stdout);
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        sorted(lines[..2].to_vec()),
        sorted(vec!["Ждем сигнал...", "Нажмите Enter для отправки сигнала"]),
        "{stdout}"
    );
    assert_eq!(lines[2], "Сигнал получен!", "{stdout}");
}

#[test]
fn semaphore_sleep_000_08_five_children_joined_in_turn_print_in_order() {
    let stdout = run_example("semaphore_sleep_000_08");
    let expected: Vec<String> = (0..5).map(|i| format!("Процесс {i} запущен")).collect();
    assert_eq!(lines(&stdout), expected, "{stdout}");
}

#[test]
fn value_set_by_child_001_06_parent_reads_the_value_the_child_set() {
    let stdout = run_example("value_set_by_child_001_06");
    assert_eq!(lines(&stdout), ["Value in main process: 123"]);
}

#[test]
fn lock_with_increment_002_05_each_child_prints_the_next_value_under_the_lock() {
    let stdout = run_example("lock_with_increment_002_05");
    let expected: Vec<String> = (1..=5).map(|i| format!("Процесс {i}")).collect();
    assert_eq!(lines(&stdout), expected, "{stdout}");
}

#[test]
fn lock_acquire_finally_002_06_dropping_the_guard_releases_the_lock_for_the_next_child() {
    let stdout = run_example("lock_acquire_finally_002_06");
    let expected: Vec<String> = (1..=5).map(|i| format!("Процесс {i}")).collect();
    assert_eq!(lines(&stdout), expected, "{stdout}");
}

#[test]
fn event_wait_003_03_child_continues_only_after_the_parent_sends_the_signal() {
    let stdout = run_example("event_wait_003_03");
    let lines = lines(&stdout);
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(
        sorted(lines[..2].to_vec()),
        sorted(vec!["Ожидание сигнала...", "Отправка сигнала..."]),
        "{stdout}"
    );
    assert_eq!(
        lines[2], "Сигнал получен! Выполнение продолжается.",
        "{stdout}"
    );
}

#[test]
fn lock_counter_004_10_five_children_under_a_lock_count_to_5000() {
    let stdout = run_example("lock_counter_004_10");
    assert_eq!(lines(&stdout), ["Итоговое значение счетчика с Lock: 5000"]);
}

#[test]
fn event_two_waiters_004_11_both_children_wake_after_the_parent_sets_the_event() {
    let stdout = run_example("event_two_waiters_004_11");
    let lines = lines(&stdout);
    assert_eq!(lines.len(), 5, "{stdout}");
    let position = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("{line:?} missing from {stdout:?}"))
    };
    let set = position("Запускаем событие");
    for name in ["Процесс 1", "Процесс 2"] {
        let waiting = position(&format!("Ожидание события в процессе: {name}"));
        let woke = position(&format!("Событие произошло в процессе: {name}"));
        assert!(waiting < woke, "{stdout}");
        assert!(set < woke, "{stdout}");
    }
}

#[test]
fn semaphore_value_004_13_both_children_enter_and_the_locked_increments_total_2() {
    let stdout = run_example("semaphore_value_004_13");
    let lines = lines(&stdout);
    assert_eq!(lines.len(), 7, "{stdout}");
    let position = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("{line:?} missing from {stdout:?}"))
    };
    for name in ["Process-1", "Process-2"] {
        let took = position(&format!("Поток {name} захватил семафор"));
        let gave_back = position(&format!("Поток {name} освободил семафор"));
        assert!(took < gave_back, "{stdout}");
    }
    // Each child reads the value before its own increment: 0, or 1 if the
    // other child has already incremented it; never both 1.
    let mut seen: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("Значение переменной: "))
        .collect();
    seen.sort_unstable();
    assert!(seen == ["0", "0"] || seen == ["0", "1"], "{stdout}");
    assert_eq!(lines[6], "Итоговое значение переменной: 2", "{stdout}");
}

#[test]
fn condition_notify_004_12_each_process_raises_the_shared_value_by_one_in_turn() {
    let stdout = run_example("condition_notify_004_12");
    let values: Vec<String> = stdout
        .lines()
        .map(|line| line.rsplit(' ').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(values, ["1", "2", "3"], "{stdout}");
    assert!(
        stdout.lines().all(|l| l.starts_with("Процесс Process-")),
        "{stdout}"
    );
}

#[test]
fn manager_dict_000_05_parent_prints_the_dict_the_child_filled_as_python_does() {
    let stdout = run_example("manager_dict_000_05");
    assert_eq!(lines(&stdout), ["{'key': 'value'}"]);
}

#[test]
fn manager_list_004_05_parent_sees_the_item_the_child_appended() {
    let stdout = run_example("manager_list_004_05");
    assert_eq!(lines(&stdout), ["Разделяемый список: [42]"]);
}

#[test]
fn manager_dict_004_06_parent_sees_the_entry_the_child_set() {
    let stdout = run_example("manager_dict_004_06");
    assert_eq!(lines(&stdout), ["Разделяемый словарь: {'key': 'value'}"]);
}

#[test]
fn manager_value_004_07_parent_reads_the_value_the_child_set() {
    let stdout = run_example("manager_value_004_07");
    assert_eq!(lines(&stdout), ["Разделяемая переменная: 100"]);
}

#[test]
fn manager_array_004_08_child_sets_the_first_element_only() {
    let stdout = run_example("manager_array_004_08");
    assert_eq!(lines(&stdout), ["Разделяемый массив: [99, 0, 0]"]);
}

#[test]
fn manager_lock_counter_004_09_three_children_under_a_manager_lock_count_to_3() {
    let stdout = run_example("manager_lock_counter_004_09");
    assert_eq!(lines(&stdout), ["Итоговое значение счетчика: 3"]);
}

#[test]
fn manager_remote_refuses_a_wrong_key_and_a_worker_connected_over_tcp_squares_every_job() {
    let stdout = run_example("manager_remote");
    assert_eq!(
        lines(&stdout),
        [
            "wrong key: refused",
            "1 * 1 = 1",
            "2 * 2 = 4",
            "3 * 3 = 9",
            "4 * 4 = 16",
            "5 * 5 = 25",
            "the worker did 5 jobs",
        ]
    );
}

#[test]
fn start_methods_runs_five_workers_under_each_method() {
    let stdout = run_example("start_methods");
    let mut expected = Vec::new();
    let methods = [("spawn", 0), ("fork", 7), ("forkserver", 0)];
    for (method, seen) in methods
        .into_iter()
        .take(multiproc::get_all_start_methods().len())
    {
        expected.push(format!("== {method}"));
        expected.extend((0..5).map(|i| format!("Процесс {i} запущен")));
        expected.push(format!("the child saw SETTING = {seen}"));
    }
    assert_eq!(lines(&stdout), expected);
}

#[test]
fn launching_programs_talks_to_sort_and_sh_and_hears_a_childs_progress_over_a_pipe() {
    let stdout = run_example("launching_programs");
    let mut expected = vec![
        "sort вернул: [\"абрикос\", \"груша\", \"яблоко\"]".to_string(),
        "sh: 6 * 7 = 42".to_string(),
        "sh: 2 + 2 = 4".to_string(),
    ];
    for (limit, primes) in [(1000, 168), (10_000, 1229)] {
        for quarter in 1..=4 {
            let checked = limit / 4 * quarter;
            expected.push(format!(
                "Простые числа меньше {limit}: проверено {checked} из {limit}"
            ));
        }
        expected.push(format!("Простых чисел меньше {limit}: {primes}"));
    }
    expected.push("Потомок обслужил запросов: 2".to_string());
    assert_eq!(lines(&stdout), expected, "{stdout}");
}

#[test]
fn signals_handled_sigterm_and_sigint_stop_cleanly_and_unhandled_sigterm_kills() {
    let stdout = run_example("signals");
    assert_eq!(
        lines(&stdout),
        [
            "== SIGTERM, с обработчиком",
            "join(): Ok(\"получен SIGTERM: текущая задача закончена, файл удалён\")",
            "exitcode = Some(0), файл остался: false",
            "== SIGINT, с обработчиком",
            "join(): Ok(\"получен SIGINT: текущая задача закончена, файл удалён\")",
            "exitcode = Some(0), файл остался: false",
            "== SIGTERM, без обработчика",
            "join(): Err(Error::Signaled { signal: 15 }): процесс убит сигналом SIGTERM",
            "exitcode = Some(-15), файл остался: true",
        ]
    );
}

#[test]
fn exceptions_a_panic_is_a_typed_error_a_result_is_a_value_and_a_pool_item_fails_alone() {
    let stdout = run_example("exceptions");
    let lines = lines(&stdout);
    assert_eq!(lines.len(), 14, "{stdout}");
    // The panic's location is the division's line and column in the example.
    let location = lines[2]
        .strip_prefix("  место: examples/exceptions.rs:")
        .unwrap_or_else(|| panic!("unexpected location line {:?}", lines[2]));
    assert!(
        location
            .split(':')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        "not line:column: {location:?}"
    );
    let mut rest = lines[..2].to_vec();
    rest.extend(&lines[3..]);
    assert_eq!(
        rest,
        [
            "== Паника в потомке",
            "divide(7, 0): паника \"attempt to divide by zero\"",
            "  exitcode = Some(1)",
            "== Ожидаемая ошибка: потомок возвращает Result",
            "parse_number(\"42\") = Ok(42)",
            "parse_number(\"сорок два\") = Err(\"\\\"сорок два\\\" — не число: invalid digit found in string\")",
            "== Pool: одна задача из четырёх паникует",
            "100 / 5 = 20",
            "100 / 2 = 50",
            "100 / 0: паника \"attempt to divide by zero\"",
            "100 / 4 = 25",
            "pool.map: первая ошибка у элемента 2, паника \"attempt to divide by zero\"",
            "пул по-прежнему работает: [50, 20]",
        ],
        "{stdout}"
    );
}

#[test]
fn tour_runs_every_section_and_prints_its_stable_lines() {
    let stdout = run_example("tour");
    // Pids, timings, the speed-up, the panic's line and the name of the worker
    // that died vary: each such line is checked for its shape, then replaced
    // by a placeholder.
    let masked: Vec<String> = lines(&stdout)
        .into_iter()
        .map(|line| {
            if let Some(pid) = line
                .strip_prefix("Process-1 (pid ")
                .and_then(|rest| rest.strip_suffix(") started"))
            {
                let pid: u32 = pid
                    .parse()
                    .unwrap_or_else(|_| panic!("not a pid in {line:?}"));
                assert_ne!(pid, std::process::id(), "{line:?}");
                "Process-1 (pid _) started".to_string()
            } else if line.starts_with("add(2, 3) = 5 in ") && !line.ends_with(" this process too")
            {
                "add(2, 3) = 5 in _".to_string()
            } else if line.starts_with(" right: 0 (at examples/tour.rs:") {
                assert!(line.ends_with(')'), "{line:?}");
                " right: 0 (at examples/tour.rs:_)".to_string()
            } else if line.starts_with("8 countdowns: ") {
                assert!(
                    line.contains(" here, ") && line.contains(" workers (") && line.ends_with("x)"),
                    "{line:?}"
                );
                "8 countdowns: _".to_string()
            } else if let Some((method, took)) = line.split_once(": add(20, 22) = 42 in ") {
                assert!(took.ends_with('s'), "{line:?}");
                format!("{method}: add(20, 22) = 42 in _")
            } else if let Some(rest) = line.strip_prefix("crash(3) failed: pool worker `") {
                assert!(
                    rest.ends_with(
                        "` died while running this task: killed by signal 6 (SIGABRT)"
                    ),
                    "{line:?}"
                );
                "crash(3) failed: pool worker `_` died while running this task: killed by signal 6 (SIGABRT)".to_string()
            } else {
                line.to_string()
            }
        })
        .collect();
    let squares = format!("squares: {SQUARES_0_TO_9}");
    let mut expected = vec![
        "== Process: a function in another process",
        "Process-1 (pid _) started",
        "add(2, 3) = 5 in _",
        "add(2, 3) = 5 in this process too",
        "",
        "== A panic comes back as a typed error",
        "the child panicked: assertion `left != right` failed: division by zero",
        "  left: 0",
        " right: 0 (at examples/tour.rs:_)",
        "",
        "== Timeouts and signals",
        "still running after 50 ms: true",
        "after terminate(): process `Process-3` was killed by signal 15 (SIGTERM); exitcode = Some(-15)",
        "",
        "== Pool: map, starmap-style apply, imap",
        squares.as_str(),
        "8 countdowns: _",
        "",
        "== A progress bar (on stderr, when it is a terminal)",
        "24 countdowns done",
        "",
        "== A worker that dies fails only its own task",
        "crash(0) = 0",
        "crash(1) = 1",
        "crash(2) = 2",
        "crash(3) failed: pool worker `_` died while running this task: killed by signal 6 (SIGABRT)",
        "crash(4) = 4",
        "crash(5) = 5",
        "the pool still works: [49, 64]",
        "",
        "== Queue and Pipe: ordinary arguments",
        "from the queue, after the producer exited: queues cross processes",
        "the pipe answered: HELLO OVER A PIPE",
        "",
        "== Manager: a shared dict, updated atomically by two processes",
        "word counts: [(\"be\", 2), (\"err\", 1), (\"human\", 1), (\"is\", 1), (\"not\", 1), (\"or\", 1), (\"to\", 3)]",
        "",
        "== Start methods: spawn, fork, forkserver",
        "spawn: add(20, 22) = 42 in _",
        "fork: add(20, 22) = 42 in _",
        "forkserver: add(20, 22) = 42 in _",
    ];
    // macOS has no fork server.
    let methods = multiproc::get_all_start_methods();
    expected.retain(|line| !line.starts_with("forkserver:") || methods.len() == 3);
    assert_eq!(masked, expected, "{stdout}");
}

/// Examples this suite cannot run, each with the reason: they are not built
/// by a plain `cargo build --examples`.
const NOT_RUN_HERE: &[(&str, &str)] = &[(
    "mpi_pool",
    "needs `--features mpi` (required-features in Cargo.toml) and `mpirun`",
)];

/// Every file in `examples/` has a test above that runs it, or is listed in
/// `NOT_RUN_HERE` with a reason: adding an example without a test fails here.
#[test]
fn every_example_is_run_by_a_test() {
    let tests = include_str!("examples.rs");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            let stem = path.file_stem().expect("a file name").to_str();
            stem.expect("a UTF-8 example name").to_string()
        })
        .collect();
    names.sort_unstable();
    assert!(
        names.len() > 40,
        "too few examples found in {}: {names:?}",
        dir.display()
    );
    let untested: Vec<&String> = names
        .iter()
        .filter(|name| !NOT_RUN_HERE.iter().any(|(exempt, _)| exempt == name))
        .filter(|name| !tests.contains(&format!("run_example(\"{name}\")")))
        .collect();
    assert!(
        untested.is_empty(),
        "no test in tests/examples.rs runs these examples: {untested:?}"
    );
}
