"""Textos em português do painel de instâncias, dos alertas e do feed da equipe."""

from bot.conversation.texts.catalog import AdminTexts

PORTUGUESE_ADMIN = AdminTexts(
    command_instances="Todas as instâncias de uma vez: estado, número, quem está usando",
    board_header="Instâncias · {time}",
    board_connected="🟢 {instance}: conectada · {number}",
    board_disconnected="🔴 {instance}: desconectada · {reason}",
    board_no_answer="⚪ {instance}: a Z-API não respondeu",
    board_refused="🔑 {instance}: a Z-API recusou as credenciais do bot",
    board_held="    👤 {member} · {step} · desde {since}, reservada até {until}",
    board_waits="    ⏳ esperas: {waits}",
    board_free="    livre",
    board_reasons={
        "connected": "conectada",
        "restore_session": "é preciso restaurar a sessão (painel da Z-API)",
        "not_connected": "nenhum número conectado",
    },
    button_refresh="🔄 Atualizar",
    button_release="🔓 Liberar {instance}",
    board_releasing="Liberando {instance}…",
    board_released=(
        "🔓 {instance} liberada: o registro que estava nela foi encerrado e o membro, avisado."
    ),
    board_release_free="ℹ {instance} já estava livre.",
    board_refreshed="Atualizado.",
    alert_dropped="🔴 A instância {instance} caiu: {reason}.",
    alert_dropped_number="Último número registrado nela: {number} ({member}).",
    alert_reconnected="🟢 A instância {instance} voltou a ficar conectada.",
    button_register_again="📲 Registrar de novo na {instance}",
    member_unknown="membro {user_id}",
    feed_connected="🟢 {member} conectou {number} na {instance}",
    feed_banned="⛔ {member}: {number} foi banido pelo WhatsApp (na {instance})",
    feed_appeal="📨 {member} pediu revisão do banimento de {number}: {outcome}",
    appeal_outcomes={
        "in_review": "em análise",
        "refused": "recusado",
        "unbanned": "desbanido",
    },
    feed_timed_out="⌛ O registro de {member} na {instance} expirou por inatividade (em: {step})",
)
