use super::*;
use std::time::{Duration, SystemTime};

fn mapping(host: &str, account: &str, prefix: Option<&str>) -> GitMapping {
    GitMapping {
        host: host.into(),
        account: account.into(),
        username: "oauth2".into(),
        path_prefix: prefix.map(Into::into),
        protocol: "https".into(),
    }
}

fn request(text: &str) -> Request {
    parse_request(text)
}

#[test]
fn requests_are_key_value_lines_up_to_a_blank_line() {
    let r = request(
        "protocol=https\r\nhost=git.example.com:8443\npath=team/repo.git\ncapability[]=authtype\nwwwauth[]=Bearer realm=\"x\"\n\nhost=after-the-blank-line\n",
    );
    assert_eq!(
        r,
        Request {
            protocol: Some("https".into()),
            host: Some("git.example.com:8443".into()),
            path: Some("team/repo.git".into()),
            username: None,
        }
    );
    let r = request("url=https://bob@git.example.com/team/repo.git\n");
    assert_eq!(r.protocol.as_deref(), Some("https"));
    assert_eq!(r.host.as_deref(), Some("git.example.com"));
    assert_eq!(r.path.as_deref(), Some("team/repo.git"));
    assert_eq!(r.username.as_deref(), Some("bob"));
    assert_eq!(
        request("garbage\nprotocol=https"),
        Request {
            protocol: Some("https".into()),
            ..Request::default()
        }
    );
    assert_eq!(request(""), Request::default());
}

#[test]
fn an_unmapped_host_finds_nothing() {
    let maps = [mapping("git.example.com", "work", None)];
    assert!(find(&maps, &request("protocol=https\nhost=other.example.com\n")).is_none());
    assert!(
        find(&maps, &request("protocol=http\nhost=git.example.com\n")).is_none(),
        "https only"
    );
    assert!(
        find(&maps, &request("host=git.example.com\n")).is_none(),
        "no protocol"
    );
    assert!(
        find(
            &maps,
            &request("protocol=https\nhost=git.example.com\nusername=bob\n")
        )
        .is_none(),
        "git already has another username"
    );
    let found = find(
        &maps,
        &request("protocol=HTTPS\nhost=Git.Example.com\nusername=oauth2\n"),
    );
    assert_eq!(found.map(|m| m.account.as_str()), Some("work"));
}

#[test]
fn the_longest_path_prefix_wins_and_needs_a_path() {
    let maps = [
        mapping("git.example.com", "everyone", None),
        mapping("git.example.com", "team", Some("team/")),
        mapping("git.example.com", "sub", Some("/team/sub")),
    ];
    let pick = |text: &str| find(&maps, &request(text)).map(|m| m.account.clone());
    assert_eq!(
        pick("protocol=https\nhost=git.example.com\n").as_deref(),
        Some("everyone")
    );
    assert_eq!(
        pick("protocol=https\nhost=git.example.com\npath=team/a.git\n").as_deref(),
        Some("team")
    );
    assert_eq!(
        pick("protocol=https\nhost=git.example.com\npath=team/sub/a.git\n").as_deref(),
        Some("sub")
    );
    assert_eq!(
        pick("protocol=https\nhost=git.example.com\npath=teamwork/a.git\n").as_deref(),
        Some("everyone")
    );
    let only_team = [mapping("git.example.com", "team", Some("team"))];
    assert!(
        find(
            &only_team,
            &request("protocol=https\nhost=git.example.com\n")
        )
        .is_none()
    );
}

#[test]
fn the_answer_carries_username_password_and_expiry() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let text = answer("oauth2", "tok-1", Some(at)).expect("answer");
    assert_eq!(
        text.as_str(),
        "username=oauth2\npassword=tok-1\npassword_expiry_utc=1800000000\n"
    );
    let text = answer("oauth2", "tok-1", None).expect("answer");
    assert_eq!(text.as_str(), "username=oauth2\npassword=tok-1\n");
    assert!(answer("oauth2", "tok\n1", None).is_err());
}

#[test]
fn store_erase_and_unknown_operations_are_ignored() {
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        git: GitArgs,
    }
    for op in ["store", "erase", "frobnicate"] {
        let args = Wrap::try_parse_from(["git-credential", op]).expect(op).git;
        assert!(
            matches!(args.op, GitOp::Store | GitOp::Erase | GitOp::Other(_)),
            "{op}"
        );
    }
    let mut input =
        std::io::Cursor::new(b"protocol=https\nhost=h\nusername=u\npassword=p\n\n".to_vec());
    assert_eq!(ignore(&mut input), Exit::Ok);
    assert_eq!(input.position(), 45, "the whole input is read");
}

#[test]
fn a_refused_mapped_host_names_the_account_and_the_fix() {
    let mappings = [mapping("git.example.test", "work:alice", None)];
    let hint = refused_hint(
        &mappings,
        &request("protocol=https\nhost=git.example.test\nusername=oauth2\npassword=tok-1\n\n"),
    )
    .expect("mapped");
    assert!(hint.contains("https://git.example.test refused the token of work:alice"));
    assert!(hint.contains("latchkey git-credential configure git.example.test ACCOUNT"));
    assert!(!hint.contains("tok-1"), "never the password");
    let other = request("protocol=https\nhost=elsewhere.example.test\npassword=p\n\n");
    assert_eq!(
        refused_hint(&mappings, &other),
        None,
        "not ours: nothing said"
    );
}
