"""The shape of a text catalog: one instance per language, complete by construction (mypy)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Catalog", "SetupTexts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    language: str

    # commands, as published with setMyCommands
    command_start: str
    command_register: str
    command_status: str
    command_cancel: str
    command_back: str
    command_help: str
    command_language: str
    cancel_confirm: str
    cancel_confirm_waits: str
    button_cancel_sure: str
    button_keep_going: str
    language_switched: str
    command_allow: str
    command_deny: str
    command_members: str
    command_release: str
    # The empty chat's "What can this bot do?" (at most 512 characters) and the profile's line
    # (at most 120).
    bot_description: str
    bot_short_description: str

    # general
    start: str
    help_footer: str  # /help: the commands and their descriptions, then this
    private_only: str
    no_flow: str
    stale_button: str
    cancelled: str
    nothing_to_cancel: str
    idle_timeout: str
    resumed: str
    text_only: str
    contact_unreadable: str
    edited_not_taken: str
    too_long: str
    command_here: str
    first_step: str
    step_indicator: str
    unexpected_error: str

    # buttons
    button_back: str
    button_cancel: str
    button_try_again: str
    button_yes: str
    button_no: str
    button_appeal: str
    button_change_number: str
    button_didnt_get_it: str
    button_forgot_pin: str
    button_device_accepted: str
    button_busy: str
    button_wait: str
    button_unavailable: str

    # instance
    ask_instance: str
    instance_busy: str
    button_connected: str  # an instance that runs a number, at the instance step
    button_replace: str
    ask_replace: str  # choosing an instance that runs a number
    ask_replace_number: str  # the same, knowing which number
    instance_busy_now: str  # a link to a registration on an instance someone holds
    all_instances_busy: str
    unknown_instance: str

    # country code and phone
    ask_ddi: str
    bad_ddi: str
    ask_phone: str
    phone_not_digits: str
    phone_too_short: str
    phone_too_long: str
    phone_confirm: str
    phone_confirm_hint: str
    # The likely cause of a number phonenumbers does not know, by country code ("*": others).
    phone_confirm_causes: dict[str, str]
    banned_appeal: str
    banned_no_appeal: str
    banned_hint: str
    unavailable: str
    ask_appeal: str
    appeal_length: str
    appeal_in_review: str
    appeal_unbanned: str
    appeal_refused: str

    # method
    method_names: dict[str, str]
    method_words: dict[str, str]
    yes_words: frozenset[str]
    no_words: frozenset[str]
    done_words: frozenset[str]
    appeal_words: frozenset[str]
    ask_method: str
    popup_note: str
    method_unknown: str
    method_blocked: str
    method_not_eligible: str
    method_waiting: str
    waits_header: str
    wait_over: str
    code_sent: dict[str, str]
    code_maybe_sent: str
    request_failed: str

    # captcha
    captcha_caption: str
    captcha_bad_input: str
    captcha_wrong: str
    captcha_ok: str
    captcha_resume: str

    # code, PIN, device transfer
    ask_code: str
    bad_code: str
    wrong_code: str
    wrong_code_many: str
    ask_pin: str
    bad_pin: str
    wrong_pin: str
    pin_recovery_sent: str
    pin_recovery_failed: str
    device_confirm: str
    device_hint: str
    device_not_yet: str
    connected: str

    # status
    step_names: dict[str, str]
    step_hints: dict[str, str]
    status_none: str
    status: str
    status_waits_none: str

    # Z-API failures (mapped from the exception family in bot/conversation/errors.py)
    error_timeout: str
    error_network: str
    error_server: str
    error_rate_limited: str
    error_refused: dict[str, str]  # by the refusal's class (bot/conversation/failures.py)
    error_auth: str
    error_auth_alerted: str
    error_auth_tell: str
    alert_credentials: str  # to the admins
    stale_button_ended: str  # a button of a flow that has ended
    error_bad_response: str
    error_retry_hint: str

    # promises kept through faults: used buttons, lost leases, restarts, storage trouble
    button_used: str
    instance_lost: str
    restarted_code_request: str
    restarted_during_call: str
    code_requested_unsaved: str
    step_unsaved: str
    ended_by_admin_denied: str
    ended_by_admin_released: str
    pin_not_deleted: str

    # time
    seconds: str
    minutes: str
    minutes_seconds: str
    hours: str
    hours_minutes: str

    # admin
    admin_only: str
    allow_usage: str
    allowed: str
    deny_usage: str
    denied: str
    deny_admin: str
    members_none: str
    admin_error: str
    denied_flow_ended: str
    admin_flow_details: str
    admin_flow_details_no_instance: str
    release_usage: str
    release_unknown: str
    release_free: str
    released: str
    admin_alert: str
    setup: SetupTexts  # the set-up of a connected number (its own file per language)
    admin: AdminTexts  # the board, alerts and feed (their own file per language)
    access: AccessTexts  # requests, invites, members (their own file per language)
    history: HistoryTexts  # /history, /export, /stats (their own file per language)
    sandbox: SandboxTexts  # sandbox instances: their mark, what the simulated phone gets


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupTexts:
    """The texts of the set-up of a connected number."""

    command_setup: str
    connected_setup_offer: str  # under "Connected", with the Set up button
    button_set_up: str
    button_skip: str
    button_finish_setup: str
    button_email_again: str
    setup_indicator: str
    ask_profile_name: str
    profile_name_invalid: str
    ask_profile_about: str
    profile_about_invalid: str
    profile_refused: str
    ask_two_fa: str
    two_fa_unknown: str  # whether the number has a PIN could not be checked
    two_fa_replaces: str  # at the PIN question, when the number has one (it was Back)
    ask_two_fa_again: str
    two_fa_invalid: str
    two_fa_mismatch: str
    two_fa_start_over: str
    two_fa_refused: str
    two_fa_already: str
    ask_email: str
    email_invalid: str
    email_refused: str
    ask_email_code: str
    email_code_invalid: str
    email_code_wrong: str
    email_code_resent: str
    setup_summary: str
    setup_part_names: dict[str, str]
    setup_part_states: dict[str, str]  # set, skipped, already, unverified, and "" (not reached)
    setup_again: str
    setup_nothing: str
    setup_during_registration: str
    setup_not_connected: str
    setup_instance_gone: str
    setup_busy: str
    setup_check_failed: str
    setup_idle_timeout: str
    send_again_hint: str  # after a failure at a step whose answer is not kept (the new PIN)
    setup_button_outdated: str  # the button under an earlier "Connected"
    two_fa_maybe_set: str  # a restart cut off setting the PIN
    setup_interrupted: str  # an admin freed the instance, or another registration took it


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminTexts:
    """What admins read: the instances' board, the alerts and the team feed."""

    command_instances: str
    board_header: str
    board_connected: str
    board_disconnected: str
    board_no_answer: str
    board_refused: str  # Z-API refused the credentials
    board_held: str
    board_waits: str
    board_free: str
    board_reasons: dict[str, str]  # Z-API's status messages (bot/domain/instances.py)
    button_refresh: str
    button_release: str
    board_releasing: str  # the answer to Release (a small pop-up)
    board_released: str  # then under the board's header
    board_release_free: str
    board_refreshed: str
    alert_dropped: str
    alert_dropped_number: str  # its second line, when a number was registered there
    alert_reconnected: str
    button_register_again: str
    member_unknown: str  # a member whose name the bot has not seen
    feed_connected: str
    feed_banned: str
    feed_appeal: str
    appeal_outcomes: dict[str, str]  # in_review, refused, unbanned
    feed_timed_out: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessTexts:
    """Letting people in: requests for access, invite links, the members' list."""

    not_member: str  # to a stranger, with the Request access button
    button_request: str
    request_sent: str
    request_pending: str  # asked again before an answer
    request_answered_no: str  # asked again after a refusal
    request_alert: str  # to the admins: "Name (@username, id) asks for access"
    button_allow: str
    button_deny: str
    request_allowed_by: str  # the admins' message once answered
    request_denied_by: str
    request_already: str  # a second answer (the pop-up)
    welcome: str  # to whoever was let in
    request_declined: str  # to whoever was not
    command_invite: str
    invite_created: str
    invite_used: str  # the link spent or expired
    invite_member_already: str
    invite_no_username: str  # the bot's @username is not known yet
    members_header: str
    members_line: str
    roles: dict[str, str]  # admin, member
    sources: dict[str, str]  # env, admin, allow, request, invite
    since: str
    by: str
    last_seen: str
    never_seen: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryTexts:
    """/history, /export and /stats."""

    command_history: str
    command_export: str
    command_stats: str
    usage: str
    header: str
    line: str
    none: str
    as_file: str  # too long for a few messages: the caption of the file
    outcomes: dict[str, str]  # "action:outcome" → words ({admin}: who did it)
    export_caption: str
    export_masked: str
    export_full: str
    stats_usage: str
    stats_header: str
    stats_columns: tuple[str, ...]  # instance, started, then STATS_OUTCOMES, median
    stats_total: str
    stats_median_by_method: str
    stats_none: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxTexts:
    """Sandbox instances (bot/zapi/sandbox.py): how they are marked, and what WhatsApp would
    have sent the phone, shown in the chat instead."""

    mark: str  # opens the header of every question of a registration on a sandbox
    instance: str  # a sandbox instance's name wherever it is shown
    code: dict[str, str]  # by delivery method
    pin_reset: str
    device_prompt: str
    email_code: str
    totals_note: str  # under totals that leave the sandbox out
