; The Windows installer of the Frontdesk app: per machine, 64-bit, silent with /S.
;
; Built by scripts/package.sh with Debian's makensis (3.08), never by hand:
;   makensis -DVERSION=0.1.0 -DVERSION4=0.1.0.0 -DSTAGE=<dir> -DICON=<icon.ico>
;            -DOUTFILE=<Frontdesk_0.1.0_x64-setup.exe> [-DSIGNER=<script>] frontdesk.nsi
; STAGE holds the signed frontdesk.exe and WebView2Loader.dll; SIGNER, when given, is a
; command that Authenticode-signs the file it is given in place (used for the uninstaller).
;
; Switches (docs/install.md):
;   /S                      silent
;   /SERVER=<url> /DESK_ID=<name> [/LOCATION=<id>]
;                           write %PROGRAMDATA%\Frontdesk\config.toml (the system-wide
;                           configuration of docs/app.md); without them an existing file
;                           is kept as it is
;   /D=<dir>                install folder (last switch, no quotes), default
;                           %ProgramFiles%\Frontdesk
; Exit code 0 done, 1 cancelled, 2 refused (bad switches, not 64-bit Windows).
; Uninstalling keeps the configuration and every user's outbox (%LOCALAPPDATA%\Frontdesk).

Unicode true
Target amd64-unicode
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel admin

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "nsDialogs.nsh"
!include "x64.nsh"

!ifdef VERSION & VERSION4 & STAGE & ICON & OUTFILE
!else
  !error "Build this with scripts/package.sh (it defines VERSION, VERSION4, STAGE, ICON, OUTFILE)."
!endif

!define PRODUCT "Frontdesk"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Frontdesk"
!define APP_KEY "Software\Frontdesk"
; The Evergreen WebView2 Runtime registers itself here (per machine).
!define WEBVIEW2_KEY "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
; Characters accepted in /SERVER, /DESK_ID and /LOCATION: printable ASCII without quotes,
; backslashes or $, so the value goes into a TOML string as it is, and stays UTF-8.
!define PLAIN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!&()*+,;=% "

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\Frontdesk"
InstallDirRegKey HKLM "${APP_KEY}" "InstallDir"
BrandingText "${PRODUCT} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

!ifdef SIGNER
  ; Signs the uninstaller makensis writes into the installer, before it is compressed.
  !uninstfinalize '"${SIGNER}" "%1"' = 0
!endif

VIProductVersion "${VERSION4}"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "CompanyName" "${PRODUCT}"
VIAddVersionKey "FileDescription" "${PRODUCT} ${VERSION} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "The Frontdesk authors"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING

Var Server
Var DeskId
Var Location
Var ConfigDir
Var Problem
Var ServerField
Var DeskField
Var LocationField

!insertmacro MUI_PAGE_DIRECTORY
Page custom DeskPage DeskPageLeave
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

; Returns (on the stack) the value of a switch such as /SERVER= from the command line:
; what follows it up to the next " /" or the end, or the text between quotes when it
; starts with one; "" when the switch is absent. FileFunc's GetOptions cannot serve:
; it cuts values at their first "/", and every URL has one.
Function GetSwitch
  Exch $0 ; in: the switch with its "=", out: the value
  Push $1 ; the command line, with a leading space
  Push $2 ; index
  Push $3 ; length of the switch
  Push $4 ; scratch
  Push $5 ; end of the value
  ${GetParameters} $1
  StrCpy $1 " $1"
  StrLen $3 $0
  StrCpy $2 0
  find:
    StrCpy $4 $1 1 $2
    StrCmp $4 "" absent
    IntOp $2 $2 + 1
    StrCmp $4 " " 0 find
    StrCpy $4 $1 $3 $2
    StrCmp $4 $0 0 find ; StrCmp ignores case: /server= works too
  IntOp $2 $2 + $3
  StrCpy $4 $1 1 $2
  StrCmp $4 '"' quoted
  StrCpy $5 $2
  plain:
    StrCpy $4 $1 2 $5
    StrCmp $4 " /" cut
    StrCpy $4 $1 1 $5
    StrCmp $4 "" trim
    IntOp $5 $5 + 1
    Goto plain
  trim: ; trailing spaces at the end of the command line
    IntOp $4 $5 - 1
    IntCmp $4 $2 cut cut
    StrCpy $4 $1 1 $4
    StrCmp $4 " " 0 cut
    IntOp $5 $5 - 1
    Goto trim
  quoted:
    IntOp $2 $2 + 1
    StrCpy $5 $2
    qloop:
      StrCpy $4 $1 1 $5
      StrCmp $4 '"' cut
      StrCmp $4 "" cut
      IntOp $5 $5 + 1
      Goto qloop
  cut:
    IntOp $5 $5 - $2
    StrCpy $0 $1 $5 $2
    Goto done
  absent:
    StrCpy $0 ""
  done:
  Pop $5
  Pop $4
  Pop $3
  Pop $2
  Pop $1
  Exch $0
FunctionEnd

; Sets $Problem when the string on the stack holds a character outside PLAIN_CHARS.
Function CheckPlain
  Exch $0 ; the value
  Push $1 ; index in the value
  Push $2 ; its character
  Push $3 ; index in PLAIN_CHARS
  Push $4 ; a character of PLAIN_CHARS
  StrCpy $1 0
  loop:
    StrCpy $2 $0 1 $1
    StrCmp $2 "" done
    StrCpy $3 0
    find:
      StrCpy $4 "${PLAIN_CHARS}" 1 $3
      StrCmp $4 "" bad
      StrCmpS $4 $2 next
      IntOp $3 $3 + 1
      Goto find
    next:
    IntOp $1 $1 + 1
    Goto loop
  bad:
    StrCpy $Problem "The value $\"$0$\" holds the character $\"$2$\". Use ASCII letters, digits and - _ . : / @ (or write config.toml yourself)."
  done:
  Pop $4
  Pop $3
  Pop $2
  Pop $1
  Pop $0
FunctionEnd

; Checks $Server, $DeskId, $Location; sets $Problem to what is wrong, or leaves it "".
Function CheckSettings
  StrCpy $Problem ""
  ${If} $Server == ""
  ${AndIf} $DeskId == ""
  ${AndIf} $Location == ""
    Return
  ${EndIf}
  ${If} $Server == ""
  ${OrIf} $DeskId == ""
    StrCpy $Problem "Give both /SERVER=<url> and /DESK_ID=<name> (and optionally /LOCATION=<id>), or none of them."
    Return
  ${EndIf}
  StrCpy $0 $Server 8
  StrCpy $1 $Server 7
  ${If} $0 != "https://"
  ${AndIf} $1 != "http://"
    StrCpy $Problem "The server address must start with https:// or http:// (got $\"$Server$\")."
    Return
  ${EndIf}
  Push $Server
  Call CheckPlain
  ${If} $Problem == ""
    Push $DeskId
    Call CheckPlain
  ${EndIf}
  ${If} $Problem == ""
  ${AndIf} $Location != ""
    Push $Location
    Call CheckPlain
  ${EndIf}
FunctionEnd

Function .onInit
  SetShellVarContext all
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "Frontdesk needs 64-bit Windows." /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
  SetRegView 64
  ; The folder the app reads its system-wide config.toml from (desk/src/config.rs).
  ReadEnvStr $ConfigDir PROGRAMDATA
  ${If} $ConfigDir == ""
    StrCpy $ConfigDir "$APPDATA" ; with SetShellVarContext all: C:\ProgramData
  ${EndIf}
  StrCpy $ConfigDir "$ConfigDir\Frontdesk"

  Push "/SERVER="
  Call GetSwitch
  Pop $Server
  Push "/DESK_ID="
  Call GetSwitch
  Pop $DeskId
  Push "/LOCATION="
  Call GetSwitch
  Pop $Location
  Call CheckSettings
  ${If} $Problem != ""
    MessageBox MB_ICONSTOP "$Problem" /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
FunctionEnd

; Interactive installs on a machine with no configuration yet ask for the server and the
; desk's name (both may stay empty: the app then says which file to write).
Function DeskPage
  ${If} $Server != ""
  ${OrIf} ${FileExists} "$ConfigDir\config.toml"
    Abort
  ${EndIf}
  !insertmacro MUI_HEADER_TEXT "This desk" "The Frontdesk server and this desk's name, saved in $ConfigDir\config.toml."
  nsDialogs::Create 1018
  Pop $0
  ${NSD_CreateLabel} 0 0 100% 10u "Server address (from IT), e.g. https://frontdesk.example.com"
  ${NSD_CreateText} 0 11u 100% 12u ""
  Pop $ServerField
  ${NSD_CreateLabel} 0 30u 100% 10u "Desk name, unique within the gym, e.g. front-1"
  ${NSD_CreateText} 0 41u 100% 12u ""
  Pop $DeskField
  ${NSD_CreateLabel} 0 60u 100% 10u "Gym (location id), optional"
  ${NSD_CreateText} 0 71u 100% 12u ""
  Pop $LocationField
  ${NSD_CreateLabel} 0 92u 100% 20u "Leave everything empty to configure later."
  nsDialogs::Show
FunctionEnd

Function DeskPageLeave
  ${NSD_GetText} $ServerField $Server
  ${NSD_GetText} $DeskField $DeskId
  ${NSD_GetText} $LocationField $Location
  Call CheckSettings
  ${If} $Problem != ""
    MessageBox MB_ICONEXCLAMATION "$Problem"
    Abort ; stay on the page
  ${EndIf}
FunctionEnd

; The system-wide configuration (TOML, keys of desk/src/config.rs). Written only when
; the switches or the page gave a server and a desk; otherwise an existing file stays.
Function WriteConfig
  ${If} $Server == ""
    Return
  ${EndIf}
  CreateDirectory "$ConfigDir"
  ClearErrors
  FileOpen $0 "$ConfigDir\config.toml" w
  ${If} ${Errors}
    MessageBox MB_ICONSTOP "Cannot write $ConfigDir\config.toml." /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
  FileWrite $0 "# Frontdesk desk configuration, written by the installer ${VERSION}.$\r$\n"
  FileWrite $0 "# Keys: server, desk_id, location, data_dir. Users' own files and FRONTDESK_* variables override it.$\r$\n"
  FileWrite $0 'server = "$Server"$\r$\n'
  FileWrite $0 'desk_id = "$DeskId"$\r$\n'
  ${If} $Location != ""
    FileWrite $0 'location = "$Location"$\r$\n'
  ${EndIf}
  FileClose $0
  DetailPrint "Configuration written to $ConfigDir\config.toml"
FunctionEnd

Section "Frontdesk" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  File "${STAGE}/frontdesk.exe"
  ; The GNU build loads WebView2Loader.dll at run time; it is Microsoft's, already signed.
  File "${STAGE}/WebView2Loader.dll"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\Frontdesk.lnk" "$INSTDIR\frontdesk.exe"

  WriteRegStr HKLM "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${APP_KEY}" "Version" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PRODUCT}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\frontdesk.exe"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" $0

  Call WriteConfig

  ; The app draws its window with the WebView2 Runtime, part of Windows 11 and of
  ; updated Windows 10. It cannot be bundled offline: say so instead of failing later.
  ClearErrors
  ReadRegStr $0 HKLM "${WEBVIEW2_KEY}" "pv"
  ${If} ${Errors}
  ${OrIf} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    DetailPrint "Warning: the Microsoft Edge WebView2 Runtime was not found; install it (Evergreen) before starting Frontdesk."
    MessageBox MB_ICONEXCLAMATION "The Microsoft Edge WebView2 Runtime was not found. Frontdesk needs it: install the Evergreen WebView2 Runtime from Microsoft." /SD IDOK
  ${EndIf}
SectionEnd

Section "Uninstall"
  SetShellVarContext all
  SetRegView 64
  Delete "$INSTDIR\frontdesk.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\Frontdesk.lnk"
  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "${APP_KEY}"
  ; Kept on purpose: %PROGRAMDATA%\Frontdesk\config.toml (IT's settings) and every
  ; user's %LOCALAPPDATA%\Frontdesk (outbox, member list, logs), so that scans not yet
  ; sent survive an uninstall and reinstall.
SectionEnd
