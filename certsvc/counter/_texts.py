"""The counter page's words, Japanese first and English (the toggle in the page header)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["ja", "en"]

TEXTS: dict[str, tuple[str, str]] = {
    "app_name": ("接種証明書 窓口交付", "Vaccination certificates — city counter"),
    "lang_toggle": ("English", "日本語"),
    "skip": ("本文へ移動", "Skip to content"),
    "nav_issue": ("交付", "Issue"),
    "nav_reprint": ("再印刷", "Reprint"),
    "nav_audit": ("監査ログ", "Audit log"),
    "nav_accounts": ("アカウント点検", "Account review"),
    "nav_certificates": ("証明書の状態・失効", "Certificate status / revoke"),
    "sign_out": ("サインアウト", "Sign out"),
    "signed_in_as": ("サインイン中", "Signed in as"),
    "terminal": ("端末", "Terminal"),
    "no_terminal": ("未登録の端末", "unregistered terminal"),
    # sign-in and password
    "sign_in_title": ("職員サインイン", "Staff sign-in"),
    "staff_id": ("職員ID", "Staff ID"),
    "password": ("パスワード", "Password"),
    "sign_in": ("サインイン", "Sign in"),
    "password_title": ("パスワードの変更", "Change your password"),
    "password_forced": (
        "初回サインインです。続ける前にパスワードを変更してください。",
        "This is your first sign-in: change your password before you go on.",
    ),
    "current_password": ("現在のパスワード", "Current password"),
    "new_password": ("新しいパスワード", "New password"),
    "new_password_hint": (
        "12文字以上。職員IDや よく使われるパスワードは使えません。",
        "At least 12 characters; not your staff ID, not a common password.",
    ),
    "change_password": ("変更する", "Change password"),
    "password_changed": ("パスワードを変更しました。", "Your password has been changed."),
    # visit start
    "issue_title": ("証明書の交付", "Issue a certificate"),
    "reprint_title": ("証明書の再印刷", "Reprint a certificate"),
    "reprint_intro": (
        "本人確認のうえ、以前に交付した証明書を同一内容で再印刷します。",
        "After the identity check, an earlier certificate is printed again, byte for byte.",
    ),
    "municipality": ("市区町村", "Municipality"),
    "no_municipality": (
        "窓口交付ができる市区町村が付与されていません。",
        "No municipality offering counter issuance is granted to you.",
    ),
    "start": ("受付を始める", "Start"),
    # identity
    "identity_title": ("本人確認", "Identity check"),
    "method_card": ("(a) マイナンバーカード(カードリーダー)", "(a) My Number card (card reader)"),
    "method_card_help": (
        "カードリーダーでこのチャレンジに署名させ、出力されたファイルを選んでください。",
        "Have the card reader sign this challenge and choose the file it writes.",
    ),
    "nonce": ("チャレンジ", "Challenge"),
    "card_file": ("カード読取ファイル", "Card file"),
    "verify_card": ("カードで確認", "Check with the card"),
    "method_notification": (
        "(b) 通知カード+写真付き本人確認書類(番号法第16条)",
        "(b) Notification card + photo ID (My Number Act art. 16)",
    ),
    "my_number": ("個人番号(12桁)", "My Number (12 digits)"),
    "my_number_help": (
        "チェックデジットを確認します。番号は画面に再表示されません。",
        "The check digit is checked; the number is never shown again.",
    ),
    "my_number_bad": (
        "個人番号のチェックデジットが一致しません",
        "The My Number check digit is wrong",
    ),
    "photo_id_type": ("写真付き本人確認書類", "Photo ID"),
    "photo_id_passport": ("旅券", "Passport"),
    "photo_id_driving_licence": ("運転免許証", "Driving licence"),
    "photo_id_residence_card": ("在留カード", "Residence card"),
    "photo_id_other": ("その他の官公署発行の写真付き書類", "Other official photo ID"),
    "verify_notification": ("番号で確認", "Check with the number"),
    # details
    "resident": ("対象者", "Resident"),
    "name": ("氏名", "Name"),
    "birth_date": ("生年月日", "Date of birth"),
    "doses": ("接種記録", "Doses"),
    "dose": ("回", "Dose"),
    "date": ("接種日", "Date"),
    "product": ("ワクチン", "Vaccine"),
    "lot": ("ロット番号", "Lot"),
    "identity_method": ("本人確認方法", "Identity check"),
    "details_title": ("交付内容", "What to issue"),
    "kind": ("種類", "Kind"),
    "kind_domestic": ("国内用", "For use in Japan"),
    "kind_abroad": ("海外用", "For use abroad"),
    "passport": ("旅券(海外用のみ)", "Passport (abroad only)"),
    "mrz_line1": ("MRZ 1行目(44文字)", "MRZ line 1 (44 characters)"),
    "mrz_line2": ("MRZ 2行目(44文字)", "MRZ line 2 (44 characters)"),
    "mrz_or_scan": (
        "2行を入力するか、旅券の身分事項ページの画像を選んでください。",
        "Type the two lines, or choose an image of the passport data page.",
    ),
    "passport_scan": ("旅券スキャン画像", "Passport scan"),
    "other_name_kind": ("旧姓・通称", "Former name / alias"),
    "other_name_none": ("なし", "None"),
    "other_name_former": ("旧姓", "Former name"),
    "other_name_alias": ("通称", "Also known as"),
    "other_name": ("旧姓・通称(書類のとおり)", "Former name / alias (as on the document)"),
    "reason": ("交付理由", "Reason"),
    "reason_no_smartphone": ("スマートフォンがない", "No smartphone"),
    "reason_card_problem": ("カードの問題", "Card problem"),
    "reason_kiosk_unavailable": ("コンビニ交付が利用できない", "Kiosk unavailable"),
    "reason_correction": ("記録の訂正", "Record corrected"),
    "reason_new_doses": ("新しい接種", "New doses"),
    "reason_other": ("その他", "Other"),
    "note": ("メモ(個人情報を書かないこと)", "Note (no personal data)"),
    "to_preview": ("確認画面へ", "Preview"),
    "certificate_id": ("証明書ID", "Certificate ID"),
    "reprint": ("再印刷する", "Reprint"),
    # preview
    "preview_title": ("交付内容の確認", "Preview"),
    "passport_read": ("読み取った旅券情報", "Passport as read"),
    "repaired": (
        "強調表示の文字はOCR読取後に補正されました。旅券と照合してください。",
        "Highlighted characters were repaired after OCR: compare them with the passport.",
    ),
    "roman_name": ("ローマ字氏名", "Name (MRZ)"),
    "nationality": ("国籍", "Nationality"),
    "passport_number": ("旅券番号", "Passport number"),
    "expiry_date": ("有効期限", "Expiry date"),
    "issue": ("交付する", "Issue"),
    "cancel": ("中止", "Cancel"),
    # done
    "done_title": ("交付しました", "Issued"),
    "reprinted_title": ("再印刷の準備ができました", "Ready to reprint"),
    "issued_at": ("交付日時", "Issued at"),
    "download_pdf": ("PDFをダウンロード", "Download the PDF"),
    "next_visit": ("次の受付", "Next resident"),
    # audit
    "audit_title": ("監査ログ", "Audit log"),
    "since": ("開始日", "From"),
    "until": ("終了日", "Until"),
    "actor": ("職員ID", "Staff ID"),
    "action": ("操作", "Action"),
    "outcome": ("結果", "Outcome"),
    "filter": ("絞り込む", "Filter"),
    "at": ("日時", "Time"),
    "role": ("役割", "Role"),
    "address_number": ("宛名番号", "Address number"),
    "chain": ("ハッシュチェーン", "Hash chain"),
    "chain_ok": ("正常", "intact"),
    "chain_broken": ("破損", "BROKEN"),
    "no_events": ("該当する記録はありません。", "No matching events."),
    # accounts
    "accounts_title": ("アカウント点検", "Account review"),
    # certificate status and revocation
    "certificates_title": ("証明書の状態確認・失効", "Certificate status and revocation"),
    "certificates_intro": (
        "証明書IDで状態を確認し、必要なときは失効させます。対象者の個人情報は表示されません。",
        "Look up a certificate's state by its ID, and revoke it when needed. Nothing of the "
        "holder is shown.",
    ),
    "certificate_id_hint": (
        "12文字(A–Z と 2–7)。ハイフンは無視されます。",
        "12 characters (A–Z and 2–7); hyphens are ignored.",
    ),
    "status_title": ("証明書の状態", "Certificate status"),
    "lookup_status": ("状態を確認", "Look up"),
    "revoke_title": ("証明書の失効", "Revoke a certificate"),
    "revoke_intro": (
        "失効は取り消せません。失効した証明書は失効リスト(CRL)に載り、検証で拒否されます。",
        "A revocation cannot be undone: the certificate goes on its key's CRL and verifiers "
        "refuse it.",
    ),
    "revoke_reason": ("失効理由", "Revocation reason"),
    "revocation_issued_in_error": ("誤って交付", "Issued in error"),
    "revocation_record_corrected": ("記録の訂正", "Record corrected"),
    "revocation_holder_request": ("本人の申出(紛失・盗難)", "Holder's request (lost, stolen)"),
    "revocation_key_compromise": ("署名鍵の危殆化", "Key compromise"),
    "revocation_superseded": ("新しい証明書で置換", "Superseded"),
    "revoke": ("失効させる", "Revoke"),
    "revoked_title": ("証明書を失効させました", "Certificate revoked"),
    "channel": ("交付チャネル", "Channel"),
    "state": ("状態", "State"),
    "state_issued": ("有効(交付済み)", "issued"),
    "state_voided": ("無効(印刷失敗)", "voided"),
    "state_revoked": ("失効", "revoked"),
    "changed_at": ("変更日時", "Changed at"),
    "kid": ("署名鍵 (kid)", "Signing key (kid)"),
    "crl_version": ("失効リストの版", "CRL version"),
    "back_to_certificates": ("証明書の状態・失効に戻る", "Back to certificate status"),
    "no_municipality_granted": (
        "市区町村が付与されていません。",
        "No municipality is granted to you.",
    ),
    # terminal
    "terminal_enrolled": ("この端末を登録しました", "This terminal is enrolled"),
    # errors
    "error_title": ("処理できませんでした", "This could not be done"),
    "error_code": ("コード", "Code"),
    "back_to_start": ("最初に戻る", "Back to the start"),
    "to_sign_in": ("サインイン画面へ", "To sign-in"),
}


def text(key: str, lang: Lang) -> str:
    ja, en = TEXTS[key]
    return ja if lang == "ja" else en
