"""Textos em português de entrada na equipe: pedidos de acesso, convites, a lista de membros."""

from bot.conversation.texts.catalog import AccessTexts

PORTUGUESE_ACCESS = AccessTexts(
    not_member=(
        "🔒 Este bot é só para membros da equipe. Toque em “Pedir acesso” que os admins "
        "recebem o seu pedido. (Seu id no Telegram: {user_id})"
    ),
    button_request="🙋 Pedir acesso",
    request_sent="📨 Pedido enviado. Eu te aviso aqui assim que um admin responder.",
    request_pending="⏳ Você já pediu; nenhum admin respondeu ainda.",
    request_answered_no=(
        "Um admin já respondeu ao seu pedido. Se achar que foi engano, fale direto com ele."
    ),
    request_alert="🙋 {name} está pedindo acesso ao bot.",
    button_allow="✅ Liberar",
    button_deny="🚫 Recusar",
    request_allowed_by="✅ {name} foi liberado por {admin}.",
    request_denied_by="🚫 {name} foi recusado por {admin}.",
    request_already="Esse pedido já foi respondido.",
    welcome=(
        "👋 Boas-vindas! Agora você pode usar o bot. Mande /register para registrar um número "
        "no WhatsApp; /help mostra o resto."
    ),
    request_declined="Poxa: um admin recusou o seu pedido de acesso.",
    command_invite="Um link de uso único para alguém entrar (vale 24 h)",
    invite_created=(
        "🔗 Convite de uso único, vale por 24 horas: quem abrir primeiro vira membro.\n{link}"
    ),
    invite_used="Esse convite já foi usado ou expirou. Peça um novo a um admin.",
    invite_member_already="Você já é membro: o link fica para outra pessoa.",
    invite_no_username=(
        "Ainda não consigo gerar links (o Telegram não me passou meu usuário). "
        "Tente de novo daqui a pouco."
    ),
    members_header="Membros:",
    members_line="• {name} · {role} · {source}{since} · {seen}",
    roles={"admin": "admin", "member": "membro"},
    sources={
        "env": "em ALLOWED_USER_IDS",
        "admin": "em ADMIN_USER_IDS",
        "allow": "adicionado com /allow",
        "request": "pediu acesso",
        "invite": "entrou por convite",
    },
    since=" desde {date}",
    by=" por {admin}",
    last_seen="visto por último {when}",
    never_seen="nunca falou com o bot",
)
